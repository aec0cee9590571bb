"""Parsing upstream simple indexes: PEP 691 JSON and PEP 503 HTML pages, streamed project lists."""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import html.parser
import json
import re
from collections.abc import Iterable
from collections.abc import Iterator
from urllib.parse import unquote
from urllib.parse import urldefrag
from urllib.parse import urljoin
from urllib.parse import urlsplit

HASH_NAMES = frozenset(hashlib.algorithms_guaranteed)
DEFAULT_PORTS = {"http": 80, "https": 443}
_SIMPLE_JSON = re.compile(r"application/vnd\.pypi\.simple\.(v(\d+)|latest)\+json")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_ANCHOR_HREF = re.compile(
    r"""<a\s(?:[^>]*?\s)?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))[^>]*>""", re.IGNORECASE
)
#: Longest single value the streamed list parser buffers before calling the body garbage.
MAX_PENDING = 1 << 20


class ParseError(ValueError):
    """An upstream body that is not a simple index page or list."""


@dataclasses.dataclass(frozen=True)
class UpstreamFile:
    """One release file as upstream lists it."""

    filename: str
    url: str
    hashes: dict[str, str] = dataclasses.field(default_factory=dict)
    requires_python: str | None = None
    yanked: bool | str = False
    core_metadata: dict[str, str] | bool = False
    size: int | None = None
    upload_time: str | None = None

    def to_dict(self) -> dict:
        """Return a compact JSON-able dict: fields at their default are left out."""
        data = {"filename": self.filename, "url": self.url}
        for field in dataclasses.fields(self)[2:]:
            value = getattr(self, field.name)
            if value != _default(field):
                data[field.name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict) -> UpstreamFile:
        """Rebuild a file from :meth:`to_dict` output."""
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclasses.dataclass(frozen=True)
class UpstreamPage:
    """A project page as upstream served it, with the validators for the next request."""

    name: str
    files: tuple[UpstreamFile, ...]
    versions: tuple[str, ...] | None = None
    etag: str | None = None
    last_modified: str | None = None
    serial: int | None = None

    def to_dict(self) -> dict:
        """Return a compact JSON-able dict: fields at their default are left out."""
        data = {"name": self.name, "files": [file.to_dict() for file in self.files]}
        for key in ("etag", "last_modified", "serial"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.versions is not None:
            data["versions"] = list(self.versions)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> UpstreamPage:
        """Rebuild a page from :meth:`to_dict` output."""
        versions = data.get("versions")
        return cls(
            name=data["name"],
            files=tuple(UpstreamFile.from_dict(file) for file in data.get("files", ())),
            versions=None if versions is None else tuple(versions),
            etag=data.get("etag"),
            last_modified=data.get("last_modified"),
            serial=data.get("serial"),
        )


def _default(field: dataclasses.Field):
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def is_json(content_type: str | None) -> bool:
    """Tell whether a response ``Content-Type`` is PEP 691 JSON; refuse unknown major versions."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    match = _SIMPLE_JSON.fullmatch(media)
    if match and match.group(2) and match.group(2) != "1":
        raise ParseError(f"unsupported simple API version {media!r}")
    return bool(match) or media == "application/json"


def origin(url: str) -> tuple[str, str | None, int | None]:
    """Return the (scheme, host, port) a URL talks to, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, parts.hostname, port


def safe_filename(filename: object) -> bool:
    """Tell whether an upstream file name can be used as the last part of a path."""
    if not isinstance(filename, str) or not filename or ".." in filename:
        return False
    return not any(char in filename for char in "/\\\x00") and filename.isprintable()


def parse_project_page(body: bytes, content_type: str | None, page_url: str, name: str):
    """Parse a project page by its content type.

    :param page_url: the final URL the page came from; relative file URLs resolve against it.
    :param name: the name asked for, used when the page does not say.
    :returns: an :class:`UpstreamPage` without validators.
    :raises ParseError: on a body that is not a page.
    """
    if is_json(content_type):
        return parse_json_page(body, page_url, name)
    return parse_html_page(body.decode(_charset(content_type), "replace"), page_url, name)


def _charset(content_type: str | None) -> str:
    match = re.search(r"charset=\"?([\w.:-]+)", content_type or "", re.IGNORECASE)
    if match:
        try:
            return codecs.lookup(match.group(1)).name
        except LookupError:
            pass
    return "utf-8"


# --- PEP 691 JSON ---------------------------------------------------------------------------


def parse_json_page(body: bytes, page_url: str, name: str) -> UpstreamPage:
    """Parse a PEP 691 project page."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ParseError("JSON page is not an object with a 'files' list")
    _check_meta(data.get("meta"))
    files = (_json_file(item, page_url) for item in data["files"] if isinstance(item, dict))
    versions = data.get("versions")
    if isinstance(versions, list) and all(isinstance(v, str) for v in versions):
        versions = tuple(versions)
    else:
        versions = None
    page_name = data.get("name")
    return UpstreamPage(
        name=page_name if isinstance(page_name, str) and page_name else name,
        files=_unique(file for file in files if file is not None),
        versions=versions,
    )


def _check_meta(meta: object) -> None:
    version = meta.get("api-version") if isinstance(meta, dict) else None
    if isinstance(version, str) and version.split(".")[0] != "1":
        raise ParseError(f"unsupported simple API version {version!r}")


def _json_file(item: dict, page_url: str) -> UpstreamFile | None:
    filename, url = item.get("filename"), item.get("url")
    if not safe_filename(filename) or not isinstance(url, str) or not url:
        return None
    metadata = item.get("core-metadata", item.get("dist-info-metadata", False))
    size = item.get("size")
    return UpstreamFile(
        filename=filename,
        url=urldefrag(urljoin(page_url, url))[0],
        hashes=_hash_dict(item.get("hashes")),
        requires_python=_optional_str(item.get("requires-python")),
        yanked=_yanked(item.get("yanked", False)),
        core_metadata=_json_metadata(metadata),
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        upload_time=_optional_str(item.get("upload-time")),
    )


def _json_metadata(value: object) -> dict[str, str] | bool:
    if isinstance(value, dict):
        return _hash_dict(value) or True  # advertised, with no hash we know
    return value is True


def _hash_dict(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {
        key.lower(): digest
        for key, digest in value.items()
        if isinstance(key, str) and isinstance(digest, str) and key.lower() in HASH_NAMES
    }


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _yanked(value: object) -> bool | str:
    if isinstance(value, str):
        return value or True  # a string, even an empty one, means yanked
    return value is True


def _unique(files: Iterable[UpstreamFile]) -> tuple[UpstreamFile, ...]:
    """Drop repeated file names; a link with hashes beats an earlier one without."""
    chosen: dict[str, UpstreamFile] = {}
    for file in files:
        earlier = chosen.get(file.filename)
        if earlier is None or (file.hashes and not earlier.hashes):
            chosen[file.filename] = file
    return tuple(chosen.values())


# --- PEP 503 HTML ---------------------------------------------------------------------------


class _AnchorParser(html.parser.HTMLParser):
    """Collects the attributes of every ``<a href>`` and the first ``<base href>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str | None]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            attributes = dict(attrs)
            if attributes.get("href"):
                self.anchors.append(attributes)
        elif tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")


def parse_html_page(text: str, page_url: str, name: str) -> UpstreamPage:
    """Parse a PEP 503 project page (PEP 592, 629, 658 and 714 attributes included)."""
    parser = _AnchorParser()
    parser.feed(text)
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    files = (_html_file(anchor, base) for anchor in parser.anchors)
    return UpstreamPage(name=name, files=_unique(file for file in files if file is not None))


def _html_file(anchor: dict[str, str | None], base: str) -> UpstreamFile | None:
    url, fragment = urldefrag(urljoin(base, anchor["href"] or ""))
    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    if not safe_filename(filename):
        return None
    yanked = anchor.get("data-yanked", False)
    key = "data-core-metadata" if "data-core-metadata" in anchor else "data-dist-info-metadata"
    metadata = anchor.get(key, "false") or "true"  # a bare attribute advertises the file
    return UpstreamFile(
        filename=filename,
        url=url,
        hashes=_fragment_hash(fragment),
        requires_python=_optional_str(anchor.get("data-requires-python")),
        yanked=False if yanked is False else (yanked or True),
        core_metadata=_html_metadata(metadata),
    )


def _fragment_hash(fragment: str) -> dict[str, str]:
    hash_name, _, digest = fragment.partition("=")
    return _hash_dict({hash_name: digest}) if digest else {}


def _html_metadata(value: str) -> dict[str, str] | bool:
    return _fragment_hash(value) or value.lower() == "true"


# --- streamed project lists -----------------------------------------------------------------


class HTMLNameList:
    """Push parser for a PEP 503 project list: names are the last path part of each link.

    A list has hundreds of thousands of links, too many for :mod:`html.parser`, so anchors are
    found with a pattern; an unfinished tag at the end of a chunk waits for the next one.
    Links that leave the list's URL (another host, or outside its path) are not projects.
    """

    def __init__(self, list_url: str) -> None:
        self._list_url = list_url
        self._prefix = urlsplit(list_url).path or "/"
        self._tail = ""

    def feed_text(self, text: str) -> list[str]:
        """Parse more of the body; return the names completed by it."""
        text = self._tail + text
        names, end = [], 0
        for match in _ANCHOR_HREF.finditer(text):
            href = match.group(1) or match.group(2) or match.group(3)
            name = self._name(html.unescape(href) if "&" in href else href)
            if name:
                names.append(name)
            end = match.end()
        unfinished = text.find("<", max(end, text.rfind(">") + 1))
        tail = text[unfinished:] if unfinished >= 0 else ""
        self._tail = tail if len(tail) <= MAX_PENDING else ""  # an endless tag is no link
        return names

    def finish(self) -> list[str]:
        """Parse the rest of the body; return the names left."""
        self._tail = ""
        return []

    def _name(self, href: str) -> str | None:
        href = href.split("#", 1)[0].split("?", 1)[0]
        if not (":" in href or href.startswith(("/", "."))):
            name = href  # the common case: a link relative to the list
        elif href.startswith(self._prefix) and self._prefix.startswith("/"):
            name = href[len(self._prefix) :]  # PyPI's case: an absolute path
        else:
            url = urljoin(self._list_url, href)
            path = urlsplit(url).path
            if origin(url) != origin(self._list_url) or not path.startswith(self._prefix):
                return None
            name = path[len(self._prefix) :]
        name = name.rstrip("/")
        return unquote(name) if name and "/" not in name else None


# The JSON list walker: punctuation that moves from each state, and where a decoded value leads.
_MOVES = {
    "start": {"{": "first_key"},
    "first_key": {"}": "done"},
    "key": {},
    "colon": {":": "value"},
    "value": {},
    "projects_colon": {":": "projects"},
    "projects": {"[": "first_item"},
    "next_key": {",": "key", "}": "done"},
    "first_item": {"]": "next_key"},
    "item": {},
    "next_item": {",": "item", "]": "next_key"},
    "done": {},
}
_DECODED = {
    "first_key": "colon",
    "key": "colon",
    "value": "next_key",
    "first_item": "next_item",
    "item": "next_item",
}


class JSONNameList:
    """Push parser for a PEP 691 project list that never holds more than one project entry.

    The top-level object is walked key by key; the ``projects`` array is decoded one element
    at a time with :meth:`json.JSONDecoder.raw_decode`, so memory stays flat for any list size.
    """

    def __init__(self) -> None:
        self._decoder = json.JSONDecoder()
        self._buffer = ""
        self._pos = 0
        self._state = "start"
        self._key = None
        self._found = False

    def feed_text(self, text: str, *, final: bool = False) -> list[str]:
        """Parse more of the body; return the project names completed by it.

        :raises ParseError: when the body is not a PEP 691 project list.
        """
        self._buffer = self._buffer[self._pos :] + text
        self._pos = 0
        names: list[str] = []
        while self._step(names, final):
            pass
        if len(self._buffer) - self._pos > MAX_PENDING:
            raise ParseError("JSON project list has an oversized or unterminated value")
        return names

    def finish(self) -> list[str]:
        """Parse the rest of the body and check that it was complete."""
        names = self.feed_text("", final=True)
        if self._state != "done":
            raise ParseError(f"JSON project list is truncated or malformed ({self._state})")
        if not self._found:
            raise ParseError("JSON body has no 'projects' list")
        return names

    def _step(self, names: list[str], final: bool) -> bool:
        """Advance over one token; return False when more text is needed."""
        self._pos = _WHITESPACE.match(self._buffer, self._pos).end()
        if self._pos >= len(self._buffer):
            return False
        char, state = self._buffer[self._pos], self._state
        if char in _MOVES[state]:
            self._pos += 1
            self._state = _MOVES[state][char]
            self._found = self._found or self._state == "first_item"
            return True
        if state not in _DECODED or (state.endswith("key") and char != '"'):
            raise ParseError(f"JSON project list: unexpected {char!r} ({state})")
        complete, value = self._value(final)
        if complete:
            self._take(state, value, names)
        return complete

    def _value(self, final: bool) -> tuple[bool, object]:
        """Decode one whole value at the cursor; (False, None) when it is not complete yet."""
        try:
            value, end = self._decoder.raw_decode(self._buffer, self._pos)
        except ValueError:
            if final:
                raise ParseError("JSON project list is malformed") from None
            return False, None
        if end == len(self._buffer) and not final:
            return False, None  # a number may go on in the next chunk
        self._pos = end
        return True, value

    def _take(self, state: str, value: object, names: list[str]) -> None:
        self._state = _DECODED[state]
        if state.endswith("key"):
            self._key = value
            if value == "projects":
                self._state = "projects_colon"
        elif state.endswith("item"):
            if isinstance(value, dict) and isinstance(value.get("name"), str):
                names.append(value["name"])
        elif self._key == "meta":
            _check_meta(value)


def iter_list_names(chunks: Iterable[bytes], content_type: str | None, list_url: str):
    """Yield the project names of a streamed list body, one parsed chunk at a time.

    :param chunks: the body as bytes chunks (``Response.iter_content``).
    :param list_url: the final URL of the list; HTML links resolve against it.
    :raises ParseError: when a JSON body is not a project list.
    """
    parser = JSONNameList() if is_json(content_type) else HTMLNameList(list_url)
    charset = "utf-8" if isinstance(parser, JSONNameList) else _charset(content_type)
    decoder = codecs.getincrementaldecoder(charset)("replace")
    yield from _parse_chunks(parser, decoder, chunks)


def _parse_chunks(parser, decoder, chunks: Iterable[bytes]) -> Iterator[str]:
    for chunk in chunks:
        yield from parser.feed_text(decoder.decode(chunk))
    tail = decoder.decode(b"", final=True)
    if tail:
        yield from parser.feed_text(tail)
    yield from parser.finish()
