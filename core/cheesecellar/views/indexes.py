"""Index views: show, create, modify and delete ``/{user}/{index}``."""

from __future__ import annotations

from pyramid.view import view_config

from cheesecellar.errors import BadRequest
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.model import indexes
from cheesecellar.model import projects
from cheesecellar.views import envelope
from cheesecellar.views import message
from cheesecellar.views import present_index
from cheesecellar.views import read_json
from cheesecellar.views.simple import is_installer
from cheesecellar.views.simple import simple_index
from cheesecellar.views.simple import wants_simple_json


def _types(request):
    return request.registry.getUtility(IIndexTypes)


@view_config(route_name="index", renderer="cellarjson", request_method="GET")
def index_get(context, request):
    if is_installer(request) or wants_simple_json(request):
        return simple_index(context, request)  # pip or a PEP 691 client pointed at the index
    config = indexes.require_index(request.tx, context.username, context.indexname)
    config = present_index(request, context.username, config)
    if "no_projects" not in request.GET:
        config["projects"] = projects.project_names(request.tx, context.name)
    return envelope(request, "indexconfig", config)


@view_config(
    route_name="index", renderer="cellarjson", request_method="PUT", permission="index_create"
)
def index_create(context, request):
    body = read_json(request)
    config = indexes.create_index(
        request.tx,
        _types(request),
        context.username,
        context.indexname,
        {} if body is None else body,
    )
    return envelope(request, "indexconfig", present_index(request, context.username, config))


@view_config(
    route_name="index", renderer="cellarjson", request_method="PATCH", permission="index_modify"
)
def index_modify(context, request):
    old = indexes.require_index(request.tx, context.username, context.indexname)
    config = indexes.modify_index(
        request.tx, _types(request), context.username, context.indexname, read_json(request)
    )
    if "error_on_noop" in request.GET and config == old:
        raise BadRequest("The requested modifications resulted in no changes")
    return envelope(request, "indexconfig", present_index(request, context.username, config))


@view_config(
    route_name="index", renderer="cellarjson", request_method="DELETE", permission="index_delete"
)
def index_delete(context, request):
    indexes.delete_index(request.tx, context.username, context.indexname)
    return message(request, f"index {context.name} deleted", status=201)
