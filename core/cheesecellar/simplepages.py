"""Simple API pages of an index, built once per change and kept rendered in each format."""

from __future__ import annotations

import threading

from cheesecellar import simplerender
from cheesecellar.model import pages
from cheesecellar.model import resolve
from cheesecellar.pagecache import PROJECT_LIST
from cheesecellar.pagecache import PageCache


class Rendered:
    """One page's data and its bodies, rendered on first use per format."""

    def __init__(self, data, render) -> None:
        self.data = data
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


class SimplePages:
    """Builds and caches the project list and project pages of every index."""

    def __init__(self, storage, types) -> None:
        self.cache = PageCache(storage)
        self.types = types

    def project(self, tx, indexname: str, project: str) -> Rendered | None:
        def build():
            page = pages.project_page(tx, self.types, indexname, project)
            return None if page is None else Rendered(page, self._project_body(indexname))

        return self.cache.get(tx, indexname, project, build)

    def index(self, tx, indexname: str) -> Rendered:
        def build():
            names = resolve.project_names(tx, self.types, indexname)
            return Rendered(names, self._index_body(indexname))

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
