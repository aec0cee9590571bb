"""Error pages for browsers, in the layout; API clients keep core's error bodies."""

from __future__ import annotations

import logging

from pyramid.exceptions import PredicateMismatch
from pyramid.httpexceptions import HTTPException
from pyramid.httpexceptions import HTTPFound
from pyramid.interfaces import IRoutesMapper
from pyramid.renderers import render_to_response
from pyramid.view import exception_view_config
from pyramid.view import forbidden_view_config
from pyramid.view import notfound_view_config

from cheesecellar.errors import CellarError

log = logging.getLogger(__name__)

TEMPLATE = "cheesecellar_web:templates/error.jinja2"
TITLES = {
    400: "Bad request",
    401: "Login needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Too large",
    500: "Server error",
    502: "Upstream unavailable",
}


def error_page(request, status: int, message: str, headers=()):
    values = {"status": status, "title": TITLES.get(status, "Error"), "message": message}
    response = render_to_response(TEMPLATE, values, request=request)
    response.status_int = status
    for name, value in headers:
        response.headers[name] = value
    return response


@exception_view_config(CellarError, browser=True)
def cellar_error_page(exc: CellarError, request):
    return error_page(request, exc.status, exc.message, exc.headers.items())


@forbidden_view_config(browser=True)
def forbidden_page(exc, request):
    who = request.authenticated_userid
    if who is None:
        text = "You are not logged in, or your credentials were not accepted."
    else:
        text = f"User {who} may not do this."
    return error_page(request, 403, text)


@notfound_view_config(browser=True)
def not_found_page(exc, request):
    if request.matched_route is not None and isinstance(exc, PredicateMismatch):
        return error_page(request, 405, f"method {request.method} not allowed here")
    target = slashless(request)
    if target is not None:
        return HTTPFound(location=target)
    return error_page(request, 404, f"There is nothing at {request.path}.")


def slashless(request) -> str | None:
    """The URL without a trailing slash, when a GET of it would reach a route."""
    path = request.path_info
    if request.method not in ("GET", "HEAD") or not path.endswith("/") or path == "/":
        return None
    stripped = path.rstrip("/") or "/"
    mapper = request.registry.getUtility(IRoutesMapper)
    if not any(route.match(stripped) is not None for route in mapper.get_routes()):
        return None
    query = request.query_string
    return request.application_url + stripped + (f"?{query}" if query else "")


@exception_view_config(HTTPException, browser=True)
def http_exception_page(exc: HTTPException, request):
    if exc.code < 400:
        return exc
    keep = [(k, v) for k, v in exc.headers.items() if k.lower() == "www-authenticate"]
    return error_page(request, exc.code, exc.detail or exc.title, keep)


@exception_view_config(Exception, browser=True)
def internal_error_page(exc: Exception, request):
    log.exception("error handling %s %s", request.method, request.path)
    return error_page(request, 500, "Internal server error; see the server log.")


def includeme(config) -> None:
    config.scan("cheesecellar_web.errorpages")
