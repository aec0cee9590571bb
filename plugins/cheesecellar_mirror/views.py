"""Mirror views: ``POST /{user}/{index}/+simple/{project}/refresh``."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from cheesecellar.interfaces import IIndexTypes
from cheesecellar.model import indexes
from cheesecellar.model.names import normalize_name
from cheesecellar.model.resolve import resolve
from cheesecellar.views import app_url


@view_config(route_name="mirror.refresh", request_method="POST")
def refresh(context, request):
    """Ask the mirrors in the index's resolution order for the project again now;
    needs no permission, as it changes nothing but the cache. Resolving does the
    asking, so a mirror that a private project of the same name hides is not asked."""
    indexes.require_index(request.tx, context.username, context.indexname)
    project = normalize_name(request.matchdict["project"])
    types = request.registry.getUtility(IIndexTypes)
    service = request.registry.cellar_mirror
    for name, config in indexes.sro(request.tx, types, context.name):
        if types.get(config["type"]).is_mirror:
            service.forget(name, project)
    resolve(request.tx, types, context.name, project)
    return HTTPFound(location=app_url(request, f"/{context.name}/+simple/{project}/"))
