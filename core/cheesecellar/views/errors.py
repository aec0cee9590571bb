"""Error responses: JSON for API clients, text otherwise; the reason phrase says why."""

from __future__ import annotations

import logging

from pyramid.exceptions import PredicateMismatch
from pyramid.httpexceptions import HTTPException
from pyramid.response import Response
from pyramid.view import exception_view_config
from pyramid.view import forbidden_view_config
from pyramid.view import notfound_view_config

from cheesecellar.errors import CellarError
from cheesecellar.renderers import dumps_api
from cheesecellar.renderers import reason_phrase
from cheesecellar.renderers import wants_json

log = logging.getLogger(__name__)


def error_response(request, status: int, message: str, headers=None) -> Response:
    """An error reply. JSON clients read ``message`` from the body and get the standard
    reason phrase; pip and twine show only the status line, so they get the message
    there (devpi-client prints both, which would repeat the text)."""
    response = Response(headerlist=[])
    response.headers.update(headers or [])
    if wants_json(request):
        response.status_int = status
        response.content_type = "application/json"
        response.text = dumps_api({"message": message})
    else:
        response.status = f"{status} {reason_phrase(message)}"
        response.content_type = "text/plain"
        response.text = message + "\n"
    return response


@exception_view_config(CellarError)
def cellar_error(exc: CellarError, request) -> Response:
    return error_response(request, exc.status, exc.message, headers=exc.headers.items())


@forbidden_view_config()
def forbidden(exc, request) -> Response:
    who = request.authenticated_userid
    if who is None:
        text = "Access was denied to this resource: not logged in or bad credentials."
    else:
        text = f"Access was denied to this resource: user {who!r} is not allowed to do this."
    return error_response(request, 403, text)


@notfound_view_config()
def not_found(exc, request) -> Response:
    if request.matched_route is not None and isinstance(exc, PredicateMismatch):
        return error_response(request, 405, f"method {request.method} not allowed here")
    return error_response(request, 404, f"no such resource: {request.path}")


@exception_view_config(HTTPException)
def http_exception(exc: HTTPException, request) -> Response:
    if exc.code < 400:
        return exc
    return error_response(
        request,
        exc.code,
        exc.detail or exc.title,
        headers=[(k, v) for k, v in exc.headers.items() if k.lower() == "www-authenticate"],
    )


@exception_view_config(Exception)
def internal_error(exc: Exception, request) -> Response:
    log.exception("error handling %s %s", request.method, request.path)
    return error_response(request, 500, "internal server error; see the server log")
