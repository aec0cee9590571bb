"""Project and version JSON, their removal, and yanking (``/{user}/{index}/{project}``)."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPForbidden
from pyramid.view import view_config

from cheesecellar.errors import BadRequest
from cheesecellar.errors import NotFound
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.model import indexes
from cheesecellar.model import releases
from cheesecellar.model.names import normalize_name
from cheesecellar.model.projectdata import project_versions
from cheesecellar.model.projectdata import public_verdata
from cheesecellar.views import app_url
from cheesecellar.views import envelope
from cheesecellar.views import message
from cheesecellar.views import read_json_object
from cheesecellar.views.simple import is_installer
from cheesecellar.views.simple import simple_project


def _project(request) -> str:
    return normalize_name(request.matchdict["project"])


def _url_for(request):
    return lambda relpath: app_url(request, "/" + relpath)


def _versions(context, request) -> dict[str, dict]:
    indexes.require_index(request.tx, context.username, context.indexname)
    project = _project(request)
    found = project_versions(
        request.tx, request.registry.getUtility(IIndexTypes), context.name, project,
        ignore_bases="ignore_bases" in request.GET, url_for=_url_for(request),
    )  # fmt: skip
    if found is None:
        raise NotFound(f"no project {project!r}")
    return found


@view_config(route_name="project", request_method="GET", renderer="cellarjson")
def project_get(context, request):
    if is_installer(request):  # pip pointed at /{user}/{index}/ gets the simple page
        return simple_project(context, request)
    return envelope(request, "projectconfig", _versions(context, request))


@view_config(route_name="version", request_method="GET", renderer="cellarjson")
def version_get(context, request):
    version = request.matchdict["version"]
    verdata = _versions(context, request).get(version)
    if verdata is None:
        raise NotFound(f"The version {version} of project {_project(request)} does not exist.")
    return envelope(request, "versiondata", verdata)


def _delete_args(context, request) -> dict:
    if not request.has_permission("delete_release"):
        raise HTTPForbidden()
    config = indexes.require_index(request.tx, context.username, context.indexname)
    return {"volatile": config.get("volatile", True), "force": "force" in request.GET}


@view_config(route_name="project", request_method="DELETE", renderer="cellarjson")
def project_delete(context, request):
    args = _delete_args(context, request)
    releases.remove_project(request.tx, context.name, _project(request), **args)
    return message(request, f"project {_project(request)!r} deleted from {context.name}")


@view_config(route_name="version", request_method="DELETE", renderer="cellarjson")
def version_delete(context, request):
    args = _delete_args(context, request)
    version = request.matchdict["version"]
    releases.remove_version(request.tx, context.name, _project(request), version, **args)
    return message(request, f"version {version} of {_project(request)!r} deleted")


@view_config(route_name="version", request_method="PATCH", renderer="cellarjson")
def version_yank(context, request):
    """PEP 592: ``{"yanked": true, "yanked_reason": "..."}``, or ``{"yanked": false}``."""
    body = read_json_object(request)
    if not isinstance(body.get("yanked"), bool):
        raise BadRequest("expected a JSON object with a boolean 'yanked'")
    reason = body.get("yanked_reason")
    if reason is not None and not isinstance(reason, str):
        raise BadRequest("'yanked_reason' must be a string")
    if not request.has_permission("upload"):
        raise HTTPForbidden()
    indexes.require_index(request.tx, context.username, context.indexname)
    verdata = releases.set_yanked(
        request.tx, context.name, _project(request), request.matchdict["version"],
        body["yanked"], reason,
    )  # fmt: skip
    return envelope(request, "versiondata", public_verdata(verdata, _url_for(request)))
