"""What the fake upstream answers: simple API pages and lists (PEP 503/629/658/691/700), files."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import email.utils
import hashlib
import html
import itertools
import json
from collections.abc import Iterable
from collections.abc import Iterator

from packaging.utils import canonicalize_name
from tests.upstream.catalog import DistFile
from tests.upstream.catalog import Project
from tests.upstream.names import list_entries

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
SIMPLE_HTML = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
# On a tie the first wins: a client that accepts anything gets HTML, as from PyPI.
OFFERS = (TEXT_HTML, SIMPLE_HTML, SIMPLE_JSON)
BATCH = 2000
READ_SIZE = 256 * 1024


@dataclasses.dataclass
class Response:
    """What a route answers: ``body`` is bytes, or chunks with ``length`` None for chunked."""

    status: int
    headers: dict[str, str]
    body: bytes | Iterable[bytes] = b""
    length: int | None = 0


def negotiate(accept: str, mode: str) -> str:
    """The content type to answer with: ``mode`` ``json`` / ``html`` forces, ``both`` negotiates."""
    if mode == "json":
        return SIMPLE_JSON
    offers = OFFERS if mode == "both" else OFFERS[:2]
    ranges = _accept_ranges(accept or "*/*")
    best = max(offers, key=lambda offer: _quality(ranges, offer))
    return best if _quality(ranges, best) > 0 else TEXT_HTML


def _http_date(moment) -> str:
    """An RFC 9110 date, as in Last-Modified."""
    return email.utils.format_datetime(moment, usegmt=True)


def _page_headers(content_type: str, etag: str, modified, serial: int) -> dict[str, str]:
    """Headers of a simple page or list: validators, serial, and what the answer varies on."""
    headers = {
        "Content-Type": content_type,
        "ETag": etag,
        "X-PyPI-Last-Serial": str(serial),
        "Vary": "Accept, Accept-Encoding",
        "Cache-Control": "max-age=600, public",
    }
    if modified is not None:
        headers["Last-Modified"] = _http_date(modified)
    return headers


def _file_headers(file: DistFile, content_type: str) -> dict[str, str]:
    """Headers of a file as a CDN serves it: immutable, with its upload time."""
    return {
        "Content-Type": content_type,
        "ETag": f'"{file.sha256}"',
        "Last-Modified": _http_date(file.upload_time),
        "Cache-Control": "max-age=365000000, immutable, public",
    }


def _not_modified(headers, etag: str, modified) -> bool:
    """RFC 9110: If-None-Match decides when present, else If-Modified-Since."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or etag in tags
    since = headers.get("If-Modified-Since")
    if since is None or modified is None:
        return False
    try:
        return modified <= email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def _accept_ranges(accept: str) -> dict[str, float]:
    ranges = {}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                with contextlib.suppress(ValueError):
                    quality = float(value)
        ranges[media.lower()] = quality
    return ranges


def _quality(ranges: dict[str, float], offer: str) -> float:
    """The quality of the most specific range matching ``offer``."""
    major = offer.split("/")[0]
    for media in (offer, f"{major}/*", "*/*"):
        if media in ranges:
            return ranges[media]
    return 0.0


def _upload_time(file: DistFile) -> str:
    return file.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _file_json(file: DistFile, url: str, metadata: bool) -> dict:
    entry = {
        "filename": file.filename,
        "url": url,
        "hashes": {"sha256": file.sha256},
        "requires-python": file.requires_python,
        "yanked": file.yanked,
        "size": file.size,
        "upload-time": _upload_time(file),
    }
    if metadata:
        core = {"sha256": file.metadata_sha256} if file.metadata is not None else False
        entry["core-metadata"] = entry["data-dist-info-metadata"] = core
    return entry


def page_json(project: Project, file_url, metadata: bool) -> bytes:
    """PEP 691 (api-version 1.1, with PEP 700's versions, size and upload-time)."""
    page = {
        "meta": {"api-version": "1.1", "_last-serial": project.serial},
        "name": canonicalize_name(project.name),
        "versions": project.versions,
        "files": [_file_json(file, file_url(file), metadata) for file in project.files],
    }
    return json.dumps(page).encode()


def _anchor(file: DistFile, url: str, metadata: bool) -> str:
    attributes = [f'href="{html.escape(url)}#sha256={file.sha256}"']
    if file.requires_python:
        attributes.append(f'data-requires-python="{html.escape(file.requires_python)}"')
    if file.yanked is not False:
        reason = "" if file.yanked is True else file.yanked
        attributes.append(f'data-yanked="{html.escape(reason)}"')
    if metadata and file.metadata is not None:
        value = f"sha256={file.metadata_sha256}"
        attributes.append(f'data-dist-info-metadata="{value}" data-core-metadata="{value}"')
    return f"    <a {' '.join(attributes)}>{html.escape(file.filename)}</a><br />\n"


def page_html(project: Project, file_url, metadata: bool) -> bytes:
    """PEP 503 with PEP 629's version meta, PEP 592 yanks and PEP 658/714 metadata."""
    title = f"Links for {html.escape(canonicalize_name(project.name))}"
    anchors = "".join(_anchor(file, file_url(file), metadata) for file in project.files)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.1">\n'
        f"    <title>{title}</title>\n  </head>\n  <body>\n    <h1>{title}</h1>\n"
        f"{anchors}  </body>\n</html>\n<!--SERIAL {project.serial}-->\n"
    ).encode()


def _batched(entries: Iterable[tuple[str, int]]) -> Iterator[tuple[tuple[str, int], ...]]:
    iterator = iter(entries)
    while batch := tuple(itertools.islice(iterator, BATCH)):
        yield batch


def project_list_html(entries: Iterable[tuple[str, int]], serial: int) -> Iterator[bytes]:
    """A PEP 503 project list in chunks of a few thousand names."""
    yield (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.1">\n'
        f"    <title>Simple index</title>\n  </head>\n  <body>\n<!--SERIAL {serial}-->\n"
    ).encode()
    for batch in _batched(entries):
        yield "".join(
            f'    <a href="/simple/{canonicalize_name(name)}/">{html.escape(name)}</a>\n'
            for name, _ in batch
        ).encode()
    yield b"  </body>\n</html>\n"


def project_list_json(entries: Iterable[tuple[str, int]], serial: int) -> Iterator[bytes]:
    """A PEP 691 project list in chunks of a few thousand names."""
    meta = json.dumps({"api-version": "1.1", "_last-serial": serial})
    yield f'{{"meta": {meta}, "projects": ['.encode()
    separator = ""
    for batch in _batched(entries):
        body = ", ".join(json.dumps({"name": name, "_last-serial": ser}) for name, ser in batch)
        yield (separator + body).encode()
        separator = ", "
    yield b"]}"


def answer(upstream, path: str, headers) -> Response:
    """What ``upstream`` answers to a GET of ``path`` (faults are the handler's business)."""
    if path.startswith("/files/"):
        if upstream.files_host == upstream.index_host and not _authorized(upstream, headers):
            return _unauthorized()
        return _file(upstream, path)
    if not _authorized(upstream, headers):
        return _unauthorized()
    if path == "/simple":
        return _redirect("/simple/")
    if path == "/simple/":
        return _project_list(upstream, headers)
    if path.startswith("/simple/"):
        return _project_page(upstream, path.removeprefix("/simple/"), headers)
    return plain(404, "Not Found")


def _authorized(upstream, headers) -> bool:
    if upstream.auth is None:
        return True
    expected = base64.b64encode(":".join(upstream.auth).encode()).decode()
    return headers.get("Authorization", "") == f"Basic {expected}"


def _project_list(upstream, headers) -> Response:
    content_type = negotiate(headers.get("Accept", ""), upstream.mode)
    projects = upstream.catalog.projects()
    generated, seed = upstream.name_list
    serial = upstream.catalog.serial
    tag = "json" if content_type == SIMPLE_JSON else "html"
    etag = f'"list-{serial}-{generated}-{seed}-{tag}"'
    modified = max((p.last_modified for p in projects), default=None)
    response_headers = _page_headers(content_type, etag, modified, serial)
    if _not_modified(headers, etag, modified):
        return Response(304, response_headers)
    known = [(project.name, project.serial) for project in projects]
    render = project_list_json if tag == "json" else project_list_html
    chunks = render(list_entries(known, generated, seed), serial)
    if not generated:
        body = b"".join(chunks)
        return Response(200, response_headers, body, len(body))
    return Response(200, response_headers, chunks, None)


def _project_page(upstream, rest: str, headers) -> Response:
    name = rest.rstrip("/")
    if name != canonicalize_name(name) or not rest.endswith("/"):
        return _redirect(f"/simple/{canonicalize_name(name)}/")
    project = upstream.catalog.project(name)
    if project is None:
        return plain(404, "Not Found")
    content_type = negotiate(headers.get("Accept", ""), upstream.mode)
    render = page_json if content_type == SIMPLE_JSON else page_html
    body = render(project, upstream.file_url, upstream.metadata)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    response_headers = _page_headers(content_type, etag, project.last_modified, project.serial)
    if _not_modified(headers, etag, project.last_modified):
        return Response(304, response_headers)
    return Response(200, response_headers, body, len(body))


def _file(upstream, path: str) -> Response:
    parts = path.split("/")
    want_metadata = path.endswith(".metadata")
    filename = parts[-1].removesuffix(".metadata") if want_metadata else parts[-1]
    file = upstream.catalog.file(parts[3]) if len(parts) == 5 else None
    if file is None or file.filename != filename or parts[2] != file.sha256[:2]:
        return plain(404, "Not Found")
    if want_metadata:
        if not upstream.metadata or file.metadata is None:
            return plain(404, "Not Found")
        headers = _file_headers(file, "text/plain")
        return Response(200, headers, file.metadata, len(file.metadata))
    headers = _file_headers(file, "application/octet-stream")
    return Response(200, headers, _read(file), file.size)


def plain(status: int, text: str) -> Response:
    """A short text answer."""
    body = f"{status} {text}\n".encode()
    return Response(status, {"Content-Type": "text/plain; charset=utf-8"}, body, len(body))


def _redirect(location: str) -> Response:
    response = plain(301, "Moved Permanently")
    response.headers["Location"] = location
    return response


def _unauthorized() -> Response:
    response = plain(401, "Unauthorized")
    response.headers["WWW-Authenticate"] = 'Basic realm="upstream"'
    return response


def _read(file: DistFile) -> Iterator[bytes]:
    with file.open() as handle:
        while chunk := handle.read(READ_SIZE):
            yield chunk
