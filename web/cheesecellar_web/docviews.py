"""``+doc/{path}``: a version's documentation as uploaded; ``+d/{path}``: it inside the site."""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from urllib.parse import quote

from pyramid.httpexceptions import HTTPFound
from pyramid.response import FileResponse
from pyramid.view import view_config

from cheesecellar.doczips import DocZipError
from cheesecellar.errors import BadRequest
from cheesecellar.errors import NotFound
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.interfaces import IStorage
from cheesecellar.model import indexes
from cheesecellar.model.names import normalize_name
from cheesecellar.plugins import register_server_plugin
from cheesecellar.resources import IndexContext
from cheesecellar.routes import INDEX
from cheesecellar.routes import PROJECT
from cheesecellar.routes import USER
from cheesecellar_web.docs import DOCS_DIR
from cheesecellar_web.docs import DocJanitor
from cheesecellar_web.docs import DocTrees
from cheesecellar_web.docs import DocZip
from cheesecellar_web.docs import find_doczip

log = logging.getLogger(__name__)

VERSION_URL = f"/{USER}/{INDEX}/{PROJECT}/{{version:[^+/][^/]*}}"
#: Docs are user content: scripts may run, but not as this server's origin.
DOC_POLICY = "sandbox allow-scripts allow-forms allow-popups"
#: ``latest`` and ``stable`` may point at other docs soon; browsers check again after this.
MAX_AGE = 60
#: Types ``mimetypes`` may not know, or may know differently on another system.
CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".map": "application/json",
}


#: The plugin name of the per-server janitor (listed in ``/+status`` under this name).
JANITOR = "cheesecellar_web.docjanitor"


def includeme(config) -> None:
    registry = config.registry
    root = Path(registry.cellar_settings.serverdir) / DOCS_DIR
    registry.cellar_doctrees = DocTrees(root, registry.getUtility(IStorage))
    register_server_plugin(registry.cellar_pm, JANITOR, DocJanitor(registry.cellar_doctrees))
    config.add_route("web.doc", VERSION_URL + "/+doc{path:(/.*)?}", factory=IndexContext)
    config.add_route("web.docframe", VERSION_URL + "/+d{path:(/.*)?}", factory=IndexContext)


def doc_path(raw: str) -> list[str]:
    """The segments of a path below ``+doc/``; a 400 for anything that could move up or
    that no file name of an unpacked zip has."""
    if "\0" in raw or "\\" in raw or any(ord(c) < 32 for c in raw):
        raise BadRequest("documentation paths cannot hold NUL, control characters or backslashes")
    segments = [segment for segment in raw.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise BadRequest("documentation paths cannot hold '.' or '..' segments")
    return segments


def require_doczip(context, request) -> DocZip:
    indexes.require_index(request.tx, context.username, context.indexname)
    project = normalize_name(request.matchdict["project"])
    version = request.matchdict["version"]
    types = request.registry.getUtility(IIndexTypes)
    found = find_doczip(request.tx, types, context.name, project, version)
    if found is None:
        raise NotFound(f"no documentation for {project} {version} on {context.name}")
    return found


def unpacked_tree(request, doc: DocZip) -> Path:
    try:
        return request.registry.cellar_doctrees.tree(doc)
    except DocZipError as exc:
        log.warning("documentation %s not unpacked: %s", doc.relpath, exc.message)
        raise NotFound(f"the documentation of {doc.project} {doc.version} cannot be shown: "
                       f"{exc.message}") from None  # fmt: skip
    except FileNotFoundError:
        raise NotFound(f"the documentation of {doc.project} {doc.version} is gone") from None


def locate(tree: Path, segments: list[str]) -> Path | None:
    """The regular file the segments name inside ``tree`` (a directory's ``index.html``);
    None when there is none or it would lie outside."""
    base = tree.resolve()
    found = base.joinpath(*segments).resolve()
    if found != base and base not in found.parents:
        return None
    if found.is_dir():
        found = found / "index.html"
    return found if found.is_file() else None


def content_type(path: Path) -> str:
    guessed = CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    guessed = guessed or "application/octet-stream"
    return guessed + "; charset=utf-8" if guessed.startswith("text/") else guessed


@view_config(route_name="web.doc", request_method="GET")
def doc_file(context, request):
    raw = request.matchdict["path"]
    if not raw:
        return HTTPFound(location=request.path_url + "/")
    segments = doc_path(raw)
    doc = require_doczip(context, request)
    tree = unpacked_tree(request, doc)
    path = locate(tree, segments)
    if path is None:
        raise NotFound(f"no file {'/'.join(segments)!r} in the documentation of "
                       f"{doc.project} {doc.version}")  # fmt: skip
    names_directory = segments and segments[-1] != path.name
    if names_directory and not raw.endswith("/"):  # relative links in its page need the slash
        return HTTPFound(location=request.path_url + "/")
    return doc_response(request, path, doc)


def doc_response(request, path: Path, doc: DocZip):
    response = FileResponse(str(path), request=request, content_type=content_type(path))
    response.etag = f"{doc.sha256[:32]}"
    response.cache_control = f"max-age={MAX_AGE}"
    response.conditional_response = True
    response.headers["Content-Security-Policy"] = DOC_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@view_config(
    route_name="web.docframe",
    request_method="GET",
    renderer="cheesecellar_web:templates/docs_frame.jinja2",
)
def doc_frame(context, request):
    segments = doc_path(request.matchdict["path"])
    doc = require_doczip(context, request)
    version_url = _version_url(request, context, doc.version)
    return {
        "doc": doc,
        "indexname": context.name,
        "frame_url": version_url + "/+doc/" + "/".join(quote(s) for s in segments),
        "version_url": version_url,
        "latest_url": _version_url(request, context, "latest") + "/+d/",
        "stable_url": _version_url(request, context, "stable") + "/+d/",
        "crumbs": _crumbs(request, context, doc),
    }


def _version_url(request, context, version: str) -> str:
    project = request.matchdict["project"]
    return f"{request.application_url}/{context.name}/{quote(project)}/{quote(version)}"


def _crumbs(request, context, doc: DocZip) -> list[tuple[str, str]]:
    app = request.application_url
    return [
        (context.username, f"{app}/{context.username}"),
        (context.indexname, f"{app}/{context.name}"),
        (doc.project, f"{app}/{context.name}/{doc.project}"),
        (doc.version, _version_url(request, context, doc.version)),
        ("docs", ""),
    ]
