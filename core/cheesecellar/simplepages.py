"""Simple API pages of an index, built once per change and kept rendered in each format."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from cheesecellar import simplerender
from cheesecellar.model import pages
from cheesecellar.model import resolve
from cheesecellar.pagecache import PROJECT_LIST
from cheesecellar.pagecache import PageCache


class Rendered:
    """One page's data and its bodies, rendered on first use per format."""

    streamed = False

    def __init__(self, data, render, expires_at: float | None = None) -> None:
        self.data = data
        self.expires_at = expires_at
        self._render = render
        self._bodies: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def body(self, fmt: str, up: str = simplerender.PAGE_UP) -> tuple[bytes, str]:
        """``(body, etag)`` in ``fmt`` (a content type of :mod:`simplerender`), with
        links relative to a page ``up`` below the index (see :func:`simplerender.href`)."""
        found = self._bodies.get((fmt, up))
        if found is None:
            with self._lock:
                body = self._render(fmt, self.data, up)
                found = self._bodies[fmt, up] = (body, simplerender.etag_of(body))
        return found


class StreamedList:
    """A project list too long to keep rendered (a mirror's upstream list): its body is
    rendered in pieces for each request from the sorted name sources."""

    streamed = True

    def __init__(self, indexname: str, sources: list, expires_at: float | None) -> None:
        self.indexname = indexname
        self.sources = sources
        self.expires_at = expires_at
        self.etag = simplerender.etag_of(repr([_identity(s) for s in sources]).encode())

    def chunks(self, fmt: str) -> Iterator[bytes]:
        names = resolve.merge_names(self.sources)
        if fmt == simplerender.JSON_TYPE:
            return simplerender.index_json_chunks(names)
        return simplerender.index_html_chunks(self.indexname, names)


def _identity(source) -> object:
    return getattr(source, "identity", None) or tuple(source)


def _expiry(sources) -> float | None:
    times = [s.expires_at for s in sources if getattr(s, "expires_at", None) is not None]
    return min(times, default=None)


class SimplePages:
    """Builds and caches the project list and project pages of every index."""

    def __init__(self, storage, types) -> None:
        self.cache = PageCache(storage)
        self.types = types

    def project(self, tx, indexname: str, project: str) -> Rendered | None:
        def build():
            page = pages.lookup_page(tx, self.types, indexname, project)
            if isinstance(page, pages.Absent):
                return page
            return Rendered(page, self._project_body(indexname), page.expires_at)

        found = self.cache.get(tx, indexname, project, build)
        return None if isinstance(found, pages.Absent) else found

    def index(self, tx, indexname: str) -> Rendered | StreamedList:
        def build():
            sources = resolve.name_sources(tx, self.types, indexname)
            if all(isinstance(source, list) for source in sources):
                names = list(resolve.merge_names(sources))
                return Rendered(names, self._index_body(indexname), _expiry(sources))
            return StreamedList(indexname, sources, _expiry(sources))

        return self.cache.get(tx, indexname, PROJECT_LIST, build)

    @staticmethod
    def _project_body(indexname: str):
        def render(fmt: str, page, up: str) -> bytes:
            if fmt == simplerender.JSON_TYPE:
                return simplerender.project_json(indexname, page, up)
            return simplerender.project_html(indexname, page, up)

        return render

    @staticmethod
    def _index_body(indexname: str):
        def render(fmt: str, names, up: str) -> bytes:
            if fmt == simplerender.JSON_TYPE:
                return simplerender.index_json(names)
            return simplerender.index_html(indexname, names)

        return render
