"""The simple API of an index: its project list and project pages, HTML or JSON."""

from __future__ import annotations

import re

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response
from pyramid.view import view_config

from cheesecellar import simplerender
from cheesecellar.errors import BadRequest
from cheesecellar.errors import CellarError
from cheesecellar.errors import NotFound
from cheesecellar.interfaces import ISimplePages
from cheesecellar.model import indexes
from cheesecellar.model.names import normalize_name
from cheesecellar.views import app_url

# Ties go to HTML, the default PEP 691 asks for when a client states no preference.
OFFERS = (simplerender.HTML_TYPE, simplerender.V1_HTML_TYPE, simplerender.JSON_TYPE)
INSTALLER = re.compile(r"^([^ ]* )*(distribute|setuptools|pip|pex|uv)/")


def negotiate(request) -> str:
    offers = request.accept.acceptable_offers(OFFERS)
    if not offers:
        raise CellarError("none of the simple API formats is acceptable", status=406)
    return offers[0][0]


def is_installer(request) -> bool:
    return bool(INSTALLER.match(request.user_agent or ""))


def _redirect_to_slash(request, fmt: str) -> HTTPFound | None:
    """Browsers get the trailing slash; installers and JSON clients are served as is."""
    if request.path.endswith("/") or is_installer(request) or fmt == simplerender.JSON_TYPE:
        return None
    return HTTPFound(location=request.path_url + "/" + _query(request))


def _query(request) -> str:
    return "?" + request.query_string if request.query_string else ""


def page_response(request, rendered, fmt: str) -> Response:
    body, etag = rendered.body(fmt)
    response = request.response
    response.headers["Vary"] = "Accept, User-Agent"
    response.headers["ETag"] = etag
    response.content_type = fmt
    if etag in request.if_none_match:
        response.status_int = 304
        return response
    response.body = body
    return response


@view_config(route_name="simple.index", request_method="GET")
def simple_index(context, request):
    fmt = negotiate(request)
    redirect = _redirect_to_slash(request, fmt)
    if redirect is not None:
        return redirect
    indexes.require_index(request.tx, context.username, context.indexname)
    rendered = request.registry.getUtility(ISimplePages).index(request.tx, context.name)
    return page_response(request, rendered, fmt)


@view_config(route_name="simple.project", request_method="GET")
def simple_project(context, request):
    fmt = negotiate(request)
    project = request.matchdict["project"]
    if not project.isascii():
        raise BadRequest("unicode project names not allowed")
    normalized = normalize_name(project)
    if normalized != project:
        slash = "/" if request.path.endswith("/") else ""
        url = app_url(request, f"/{context.name}/+simple/{normalized}{slash}")
        return HTTPFound(location=url + _query(request))
    redirect = _redirect_to_slash(request, fmt)
    if redirect is not None:
        return redirect
    indexes.require_index(request.tx, context.username, context.indexname)
    pages = request.registry.getUtility(ISimplePages)
    rendered = pages.project(request.tx, context.name, normalized)
    if rendered is None:
        raise NotFound(f"The project {normalized} does not exist.")
    return page_response(request, rendered, fmt)
