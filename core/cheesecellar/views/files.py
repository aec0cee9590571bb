"""Stored files at ``/{user}/{index}/+f/...``: download, entry metadata, removal."""

from __future__ import annotations

import calendar
import mimetypes
import time

from pyramid.httpexceptions import HTTPForbidden
from pyramid.response import Response
from pyramid.view import view_config
from webob.static import FileIter

from cheesecellar.errors import NotFound
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.interfaces import IStorage
from cheesecellar.model import indexes
from cheesecellar.model import releases
from cheesecellar.renderers import wants_json
from cheesecellar.views import envelope
from cheesecellar.views import message

IMMUTABLE = "max-age=365000000, immutable, public"
BLOCK_SIZE = 256 * 1024
#: Files up to this size are sent from memory.
SMALL_FILE = 64 * 1024
mimetypes.add_type("application/octet-stream", ".whl")


def _relpath(context, request) -> str:
    return f"{context.name}/+f/{request.matchdict['relpath']}"


def _upload_epoch(entry: dict | None) -> float | None:
    stamp = (entry or {}).get("upload_time")
    if not stamp:
        return None
    return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))


def content_type_for(relpath: str) -> str:
    """The type a file is served as; a ``.tar.gz`` is ``application/x-tar``, as devpi has it."""
    content_type, _encoding = mimetypes.guess_type(relpath)
    return content_type or "application/octet-stream"


def file_response(request, relpath: str, sha256: str, size: int, modified) -> Response:
    """Stream a blob: ETag and Last-Modified for caches, Range for resumed downloads."""
    fp = request.registry.getUtility(IStorage).open_file(relpath)
    response = Response(conditional_response=True)
    response.content_type = content_type_for(relpath)
    wrapper = request.environ.get("wsgi.file_wrapper")
    if size <= SMALL_FILE and "Range" not in request.headers:
        with fp:  # metadata files and small wheels: one read beats the file wrapper
            response.body = fp.read()
    elif wrapper is not None and "Range" not in request.headers:
        response.app_iter = wrapper(fp, BLOCK_SIZE)
    else:
        response.app_iter = FileIter(fp)  # webob slices it for Range requests
    response.content_length = size
    response.etag = sha256
    response.accept_ranges = "bytes"
    response.cache_control = IMMUTABLE
    if modified is not None:
        response.last_modified = modified
    return response


@view_config(route_name="files", request_method="GET", renderer="cellarjson")
def file_get(context, request):
    relpath = _relpath(context, request)
    info = request.tx.file_info(relpath)
    if info is None:
        return _from_file_source(context, request, relpath)
    found = releases.find_file(request.tx, relpath.removesuffix(".metadata"))
    entry = found[2] if found else None
    if wants_json(request) and found is not None:
        return json_meta(request, relpath, info, found)
    return file_response(request, relpath, info.sha256, info.size, _upload_epoch(entry))


def _from_file_source(context, request, relpath: str):
    """A file the index lists but has not stored (a mirror fetches it now), or 404."""
    config = indexes.require_index(request.tx, context.username, context.indexname)
    source = request.registry.getUtility(IIndexTypes).get(config["type"]).file_source
    response = None
    if source is not None:
        response = source.respond(request, context.name, config, relpath)
    if response is None:
        raise NotFound("no such file")
    return response


def json_meta(request, relpath: str, info, found):
    project, version, entry = found
    modified = _upload_epoch(entry)
    result = {
        "hash_spec": f"sha256={info.sha256}",
        "hashes": {"sha256": info.sha256},
        "project": project,
        "version": version,
        "last_modified": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(modified or 0)),
    }
    return envelope(request, "releasefilemeta", result)


@view_config(route_name="files", request_method="DELETE", renderer="cellarjson")
def file_delete(context, request):
    if not request.has_permission("delete_release"):
        raise HTTPForbidden()
    config = indexes.require_index(request.tx, context.username, context.indexname)
    relpath = _relpath(context, request)
    releases.remove_file(
        request.tx, context.name, relpath,
        volatile=config.get("volatile", True), force="force" in request.GET,
    )  # fmt: skip
    return message(request, f"package {relpath!r} deleted")
