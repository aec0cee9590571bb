"""Simple API bodies: PEP 503 HTML (with the PEP 629 version) and PEP 691 JSON, v1.1."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from collections.abc import Iterator
from html import escape

from cheesecellar.model.pages import Link
from cheesecellar.model.pages import ProjectPage

API_VERSION = "1.1"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html"
V1_HTML_TYPE = "application/vnd.pypi.simple.v1+html"
_META = f'<meta name="pypi:repository-version" content="{API_VERSION}">'
#: From ``/{index}/+simple/{project}/`` back to ``/{index}/``.
PAGE_UP = "../../"


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def href(indexname: str, link: Link, up: str = PAGE_UP) -> str:
    """A link relative to the page; ``up`` leads from the page to ``/{index}/``
    (``../../`` from ``/{index}/+simple/{project}/``). Files of other stages go up
    to the server root; a link to another server is absolute."""
    if link.url is not None:
        return link.url
    stage_prefix = indexname + "/"
    if link.path.startswith(stage_prefix):
        return up + link.path[len(stage_prefix) :]
    return up + "../../" + link.path


def _fragment(link: Link) -> str:
    if "sha256" in link.hashes:
        return f"#sha256={link.hashes['sha256']}"
    for name, value in link.hashes.items():
        return f"#{name}={value}"
    return ""


def project_html(indexname: str, page: ProjectPage, up: str = PAGE_UP) -> bytes:
    lines = [
        "<!DOCTYPE html>",
        f"<html><head>{_META}<title>Links for {escape(page.name)}</title></head>",
        f"<body><h1>Links for {escape(page.name)}</h1>",
    ]
    for link in page.links:
        attrs = [f'href="{escape(href(indexname, link, up) + _fragment(link))}"']
        if link.requires_python is not None:
            attrs.append(f'data-requires-python="{escape(link.requires_python)}"')
        if link.core_metadata:
            spec = escape("=".join(next(iter(link.core_metadata.items()))))
            attrs.append(f'data-dist-info-metadata="{spec}" data-core-metadata="{spec}"')
        if link.yanked:
            reason = "" if link.yanked is True else link.yanked
            attrs.append(f'data-yanked="{escape(reason)}"')
        lines.append(f"<a {' '.join(attrs)}>{escape(link.filename)}</a><br>")
    lines.append("</body></html>\n")
    return "\n".join(lines).encode()


def _file_json(indexname: str, link: Link, up: str) -> dict:
    data = {"filename": link.filename, "url": href(indexname, link, up), "hashes": link.hashes}
    if link.requires_python is not None:
        data["requires-python"] = link.requires_python
    if link.core_metadata:
        data["core-metadata"] = link.core_metadata
        data["dist-info-metadata"] = link.core_metadata
    if link.yanked:
        data["yanked"] = link.yanked
    if link.size is not None:
        data["size"] = link.size
    if link.upload_time is not None:
        data["upload-time"] = link.upload_time
    return data


def project_json(indexname: str, page: ProjectPage, up: str = PAGE_UP) -> bytes:
    body = {
        "meta": {"api-version": API_VERSION},
        "name": page.name,
        "versions": page.versions,
        "files": [_file_json(indexname, link, up) for link in page.links],
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def index_html(indexname: str, names: Iterable[str]) -> bytes:
    return b"".join(index_html_chunks(indexname, names))


def index_json(names: Iterable[str]) -> bytes:
    return b"".join(index_json_chunks(names))


def index_html_chunks(indexname: str, names: Iterable[str]) -> Iterator[bytes]:
    """The project list as HTML in pieces of about ``NAMES_PER_CHUNK`` names."""
    head = f"<html><head>{_META}<title>Simple index of {escape(indexname)}</title></head>"
    yield f"<!DOCTYPE html>\n{head}\n<body>\n".encode()
    for batch in _batches(names):
        yield "".join(f'<a href="{escape(n)}/">{escape(n)}</a><br>\n' for n in batch).encode()
    yield b"</body></html>\n"


def index_json_chunks(names: Iterable[str]) -> Iterator[bytes]:
    """The PEP 691 project list in pieces, valid JSON once joined."""
    yield b'{"meta":{"api-version":"' + API_VERSION.encode() + b'"},"projects":['
    separator = ""
    for batch in _batches(names):
        text = ",".join('{"name":' + _json_string(n) + "}" for n in batch)
        yield (separator + text).encode()
        separator = ","
    yield b"]}"


NAMES_PER_CHUNK = 2000
#: Normalised names need no JSON escaping; anything else goes through json.dumps.
_PLAIN_NAME = re.compile(r"[a-z0-9._-]+")


def _json_string(name: str) -> str:
    if _PLAIN_NAME.fullmatch(name):
        return f'"{name}"'
    return json.dumps(name, ensure_ascii=False)


def _batches(names: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for name in names:
        batch.append(name)
        if len(batch) == NAMES_PER_CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch
