"""``.../{version}/+toxresults/{filename}``: every tox result of a release file, HTML or JSON."""

from __future__ import annotations

from pyramid.view import view_config

from cheesecellar.interfaces import IIndexTypes
from cheesecellar.interfaces import IStorage
from cheesecellar.model import indexes
from cheesecellar.model.names import normalize_name
from cheesecellar.resources import IndexContext
from cheesecellar.views import envelope
from cheesecellar_web.docviews import VERSION_URL
from cheesecellar_web.toxresults import ReleaseRuns
from cheesecellar_web.toxresults import find_release
from cheesecellar_web.toxresults import read_runs


def includeme(config) -> None:
    config.add_route(
        "web.toxresults", VERSION_URL + "/+toxresults/{filename}", factory=IndexContext
    )


def release_runs(context, request) -> ReleaseRuns:
    """The data both answers show."""
    indexes.require_index(request.tx, context.username, context.indexname)
    project = normalize_name(request.matchdict["project"])
    version, filename = request.matchdict["version"], request.matchdict["filename"]
    types = request.registry.getUtility(IIndexTypes)
    _where, release, entries = find_release(
        request.tx, types, context.name, project, version, filename
    )
    url_for = _url_for(request)
    runs = read_runs(request.registry.getUtility(IStorage), entries, url_for)
    return ReleaseRuns(context.name, project, version, filename, url_for(release["relpath"]), runs)


def _url_for(request):
    return lambda relpath: f"{request.application_url}/{relpath}"


@view_config(
    route_name="web.toxresults",
    request_method="GET",
    browser=True,
    renderer="cheesecellar_web:templates/toxresults.jinja2",
)
def toxresults_page(context, request):
    found = release_runs(context, request)
    app = request.application_url
    version_url = f"{app}/{found.indexname}/{found.project}/{found.version}"
    crumbs = [
        (context.username, f"{app}/{context.username}"),
        (context.indexname, f"{app}/{context.name}"),
        (found.project, f"{app}/{context.name}/{found.project}"),
        (found.version, version_url),
        ("tox results", ""),
    ]
    return {"found": found, "version_url": version_url, "crumbs": crumbs}


@view_config(route_name="web.toxresults", request_method="GET", renderer="cellarjson")
def toxresults_json(context, request):
    found = release_runs(context, request)
    request.response.vary = ["Accept"]
    return envelope(request, "toxresults", [run.as_json() for run in found.runs])
