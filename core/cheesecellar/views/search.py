"""Search: ``GET /+search`` answers JSON; ``pip search`` (XML-RPC) is answered at index URLs.

Both ask the backend of ``cellar_get_search_backend`` (``registry.cellar_search``);
without one they answer 501. The web UI adds an HTML page on ``/+search`` for browsers.
"""

from __future__ import annotations

import xmlrpc.client
from xml.parsers.expat import ExpatError

from pyramid.response import Response
from pyramid.view import view_config

from cheesecellar.errors import CellarError
from cheesecellar.search import SearchQueryError
from cheesecellar.views import envelope

XMLRPC_TYPE = "text/xml"
#: The view predicate of XML-RPC calls: uploads to the same URL are multipart forms.
XMLRPC_HEADER = "Content-Type:(?i)text/xml"
#: Largest XML-RPC request read; ``pip search`` sends a few hundred bytes.
MAX_XMLRPC_BODY = 64 * 1024
FAULT_BAD_REQUEST = 1
FAULT_UNAVAILABLE = 2


def search_backend(request):
    backend = request.registry.cellar_search
    if backend is None:
        raise CellarError("search is not available: no search plugin is installed", 501)
    return backend


@view_config(route_name="search", renderer="cellarjson", request_method="GET")
def search_json(request):
    backend = search_backend(request)
    params = request.GET
    if "query" not in params:
        raise SearchQueryError("give the search words as ?query=...")
    results = backend.search(
        params["query"],
        page=params.get("page", 1),
        per_page=params.get("per_page", 20),
        indexname=params.get("index") or None,
    )
    return envelope(request, "searchresults", results.as_json())


@view_config(route_name="index", request_method="POST", header=XMLRPC_HEADER)
def index_xmlrpc(context, request):
    return xmlrpc_response(request, context.name)


@view_config(route_name="search", request_method="POST", header=XMLRPC_HEADER)
def root_xmlrpc(request):
    return xmlrpc_response(request, None)


def xmlrpc_response(request, indexname: str | None) -> Response:
    try:
        body = xmlrpc.client.dumps((legacy_search(request, indexname),), methodresponse=True)
    except SearchQueryError as exc:
        body = xmlrpc.client.dumps(xmlrpc.client.Fault(FAULT_BAD_REQUEST, exc.message))
    except CellarError as exc:
        body = xmlrpc.client.dumps(xmlrpc.client.Fault(FAULT_UNAVAILABLE, exc.message))
    return Response(body=body.encode("utf-8"), content_type=XMLRPC_TYPE, charset="utf-8")


def read_call(request) -> tuple[str, tuple]:
    """The method name and parameters of an XML-RPC request body."""
    body = request.body_file.read(MAX_XMLRPC_BODY + 1)
    if len(body) > MAX_XMLRPC_BODY:
        raise SearchQueryError(f"the XML-RPC request is larger than {MAX_XMLRPC_BODY} bytes")
    if b"<!DOCTYPE" in body.upper():
        raise SearchQueryError("the XML-RPC request must not have a document type")
    try:
        params, method = xmlrpc.client.loads(body)
    except (ExpatError, ValueError, TypeError, xmlrpc.client.ResponseError) as exc:
        raise SearchQueryError(f"the XML-RPC request cannot be read: {exc}") from None
    return method, params


def legacy_search(request, indexname: str | None) -> list[dict]:
    method, params = read_call(request)
    if method != "search":
        raise SearchQueryError(f"unknown XML-RPC method {method!r}; only 'search' is served")
    if not 1 <= len(params) <= 2:
        raise SearchQueryError("search takes a struct of fields and an operator")
    operator = params[1] if len(params) == 2 else "and"
    hits = search_backend(request).search_fields(params[0], operator, indexname=indexname)
    # pip parses every version: a mirror name, whose versions are not looked up, says "0".
    return [
        {
            "name": hit.title if hit.kind == "project" else hit.project,
            "summary": hit.summary if hit.kind == "project" else "",
            "version": hit.version or "0",
            "_pypi_ordering": len(hits) - position,
        }
        for position, hit in enumerate(hits)
    ]
