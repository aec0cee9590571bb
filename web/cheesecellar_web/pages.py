"""Browser views of the root, user, index, project and version URLs."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config

from cheesecellar.model import indexes
from cheesecellar.model import users
from cheesecellar_web import listing
from cheesecellar_web import releasedata
from cheesecellar_web import testruns
from cheesecellar_web import versionpage
from cheesecellar_web.layout import server_url as url

TEMPLATES = "cheesecellar_web:templates/"


def crumbs(request, username: str, indexname=None, project=None, version=None) -> list:
    parts = [(username, url(request, username))]
    if indexname is not None:
        parts.append((indexname, url(request, username, indexname)))
    if project is not None:
        parts.append((project, url(request, username, indexname, project)))
    if version is not None:
        parts.append((version, url(request, username, indexname, project, version)))
    return parts


@view_config(route_name="root", request_method="GET", browser=True,
             renderer=TEMPLATES + "root.jinja2")  # fmt: skip
def root_page(request):
    return {"users": listing.all_users(request)}


@view_config(route_name="user", request_method="GET", browser=True,
             renderer=TEMPLATES + "user.jinja2")  # fmt: skip
def user_page(context, request):
    users.require_user(request.tx, context.username)
    return {
        "user": listing.user_summary(request, context.username),
        "crumbs": crumbs(request, context.username),
    }


@view_config(route_name="index", request_method="GET", browser=True,
             renderer=TEMPLATES + "index.jinja2")  # fmt: skip
def index_page(context, request):
    config = indexes.require_index(request.tx, context.username, context.indexname)
    info = listing.index_summary(request, context.username, context.indexname, config)
    mirror = listing.is_mirror(request, config)
    page = None if mirror else listing.index_projects(
        request, context.name, listing.page_number(request)
    )  # fmt: skip
    return {
        "index": info,
        "is_mirror": mirror,
        "acl_upload": listing.split_acl(config.get("acl_upload")),
        "acl_toxresult_upload": listing.split_acl(config.get("acl_toxresult_upload")),
        "simple_url": url(request, context.username, context.indexname) + "/+simple/",
        "page": page,
        "crumbs": crumbs(request, context.username, context.indexname),
    }


@view_config(route_name="project", request_method="GET", browser=True,
             renderer=TEMPLATES + "project.jinja2")  # fmt: skip
def project_page(context, request):
    found = releasedata.project_releases(
        request, context.username, context.indexname, request.matchdict["project"]
    )
    return {
        "project": found,
        "rows": releasedata.version_rows(found),
        "index_name": context.name,
        "refresh_url": url(request, context.username, context.indexname, "+simple", found.project)
        + "/refresh",
        "crumbs": crumbs(request, context.username, context.indexname, found.name),
    }


@view_config(route_name="version", request_method="GET", browser=True,
             renderer=TEMPLATES + "version.jinja2")  # fmt: skip
def version_page(context, request):
    found = releasedata.project_releases(
        request, context.username, context.indexname, request.matchdict["project"]
    )
    version = releasedata.pick_version(found, request.matchdict["version"])
    verdata = found.versions[version]
    simple_url = url(request, context.username, context.indexname) + "/+simple/"
    base = url(request, context.username, context.indexname, found.project, version)
    return {
        "project": found,
        "version": version,
        "asked": request.matchdict["version"],
        "index_name": context.name,
        "stage": found.stage_of[version],
        "yanked": bool(verdata.get("yanked")),
        "yanked_reason": verdata.get("yanked_reason") or "",
        "meta": versionpage.metadata(verdata),
        "files": releasedata.release_files(request, verdata),
        "tox": testruns.summaries(request, releasedata.toxresult_entries(verdata)),
        "toxresults_url": base + "/+toxresults/",
        "doc_url": base + "/+doc/" if releasedata.has_doczip(verdata) else None,
        "pip_command": versionpage.pip_command(simple_url, found.name, version),
        "crumbs": crumbs(request, context.username, context.indexname, found.name, version),
    }


def refresh_from_browser(context, request):
    """The project page's refresh button: refresh as the mirror plugin does, then show
    the project page again (303, so a reload does not post again)."""
    from cheesecellar_mirror.views import refresh

    refresh(context, request)
    project = request.matchdict["project"]
    return HTTPSeeOther(location=url(request, context.username, context.indexname, project))


def includeme(config) -> None:
    config.scan("cheesecellar_web.pages")
    pm = config.registry.cellar_pm
    if pm.get_plugin("cheesecellar_mirror") is not None:
        config.add_view(
            refresh_from_browser, route_name="mirror.refresh", request_method="POST", browser=True
        )
