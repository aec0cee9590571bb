"""The simple API of an index: its project list and project pages, HTML or JSON."""

from __future__ import annotations

import functools
import re

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response
from pyramid.view import view_config
from webob.acceptparse import create_accept_header

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
VARY = "Accept, User-Agent"
INSTALLER = re.compile(r"^([^ ]* )*(distribute|setuptools|pip|pex|uv)/")


def negotiate(request) -> str:
    """The format to answer in. A client that asks only for a simple API version we do
    not serve gets a 406; any other Accept that names none of our formats
    (``application/json`` from an API client, say) gets HTML, as devpi answers it."""
    accept = request.environ.get("HTTP_ACCEPT")
    fmt = _best_offer(accept)
    if fmt is None and "application/vnd.pypi.simple." in (accept or ""):
        raise CellarError("none of the simple API versions asked for is served", status=406)
    return fmt or simplerender.HTML_TYPE


@functools.lru_cache(maxsize=256)
def _best_offer(accept: str | None) -> str | None:
    # Installers send the same few headers again and again; parsing one costs more
    # than the rest of a cached page.
    offers = create_accept_header(accept).acceptable_offers(OFFERS)
    return offers[0][0] if offers else None


def wants_simple_json(request) -> bool:
    """Whether the client asks for PEP 691 JSON above the other simple API formats."""
    return _best_offer(request.environ.get("HTTP_ACCEPT")) == simplerender.JSON_TYPE


def is_installer(request) -> bool:
    return bool(INSTALLER.match(request.user_agent or ""))


def _redirect_to_slash(request, fmt: str) -> HTTPFound | None:
    """Browsers get the trailing slash; installers and JSON clients are served as is."""
    if request.path_info.endswith("/") or is_installer(request) or fmt == simplerender.JSON_TYPE:
        return None
    return HTTPFound(location=request.path_url + "/" + _query(request))


def _query(request) -> str:
    return "?" + request.query_string if request.query_string else ""


def _up_to_index(request) -> str:
    """Relative links lead from the page's directory back to ``/{user}/{index}/``; the
    page is served with and without a trailing slash, and at ``/{user}/{index}/{project}``."""
    depth = request.path_info.lstrip("/").count("/") - 2
    return "../" * max(depth, 0)


@functools.cache
def _content_type_header(fmt: str) -> str:
    return Response(content_type=fmt).headers["Content-Type"]  # webob adds the charset


def page_response(request, rendered, fmt: str) -> Response:
    body, etag = rendered.body(fmt, _up_to_index(request))
    if "HTTP_IF_NONE_MATCH" not in request.environ:
        # The common case, built in one go: a page is served thousands of times a second.
        headers = [("Content-Type", _content_type_header(fmt)), ("Vary", VARY), ("ETag", etag)]
        return Response(body=body, headerlist=headers)
    response = request.response
    response.headers["Vary"] = VARY
    response.headers["ETag"] = etag
    response.content_type = fmt
    # webob's matcher holds the tags without their quotes.
    if etag.strip('"') in request.if_none_match:
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
    if rendered.streamed:
        return streamed_response(request, rendered, fmt)
    return page_response(request, rendered, fmt)


def streamed_response(request, streamed, fmt: str) -> Response:
    """A long project list, rendered while it is sent: its names are never all in memory."""
    response = request.response
    response.headers["Vary"] = VARY
    response.headers["ETag"] = streamed.etag
    response.content_type = fmt
    if streamed.etag.strip('"') in request.if_none_match:
        response.status_int = 304
        return response
    response.app_iter = streamed.chunks(fmt)
    return response


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
