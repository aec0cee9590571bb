"""Built pages kept in memory and invalidated by serial: a page stays valid until a commit
touches its project, the project list, or any index configuration, or until the time a
page built from a mirror says it expires."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cheesecellar.model import keys

MAX_PAGES = 20000
#: The dependency key of the project list of an index.
PROJECT_LIST = None


class PageCache:
    """Caches values per ``(index, project)``; learns what changed from the changelog.

    The changelog is read up to the serial of the asking transaction before the cache
    answers, so a transaction never gets a page older than what it can see. Changes are
    tracked per normalised project name across all indexes: an upload to one index
    makes the pages of that project name rebuild in every index, which keeps inheriting
    indexes correct without tracking who inherits from whom. A value with an
    ``expires_at`` (a :func:`time.monotonic` time, or None) is rebuilt after that time.
    """

    def __init__(self, storage, max_pages: int = MAX_PAGES) -> None:
        self._storage = storage
        self._known = storage.last_serial()
        self._touched: dict[str, int] = {}
        self._config_serial = -1
        self._names_serial = -1
        self._pages: OrderedDict[tuple, tuple[int, Any]] = OrderedDict()
        self._max = max_pages
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, tx, indexname: str, project: str | None, build: Callable[[], Any]) -> Any:
        """The cached value for the pair, or ``build()`` stored for later requests."""
        at = tx.at_serial
        with self._lock:
            if self._known < at:
                self._learn(at)
            depends = self._depends_on(project)
            cached = self._pages.get((indexname, project))
            if cached is not None and cached[0] >= depends and _fresh(cached[1]):
                self._pages.move_to_end((indexname, project))
                self.hits += 1
                return cached[1]
        self.misses += 1
        value = build()
        with self._lock:
            self._pages[(indexname, project)] = (at, value)
            while len(self._pages) > self._max:
                self._pages.popitem(last=False)
        return value

    def _depends_on(self, project: str | None) -> int:
        if project is PROJECT_LIST:
            return max(self._config_serial, self._names_serial)
        return max(self._config_serial, self._touched.get(project, -1))

    def _learn(self, upto: int) -> None:
        for serial in range(self._known + 1, upto + 1):
            entry = self._storage.changelog(serial)
            for change in entry.changes if entry else ():
                self._note(change, serial)
        self._known = upto

    def _note(self, change, serial: int) -> None:
        parsed = keys.parse(change.key)
        if parsed is None:
            return
        if parsed.kind in ("index", "user"):
            self._config_serial = serial
        elif parsed.kind in ("project", "mirror"):
            self._names_serial = serial
            self._touched[parsed.parts[2]] = serial
        elif parsed.kind == "version":
            self._touched[parsed.parts[2]] = serial
        elif parsed.kind == "mirrorlist":
            self._names_serial = serial
        elif parsed.kind == "file" and isinstance(change.value, dict):
            # A mirror wheel cached with metadata computed from it changes what its page
            # advertises; other file records change no page.
            project = change.value.get("project")
            if project and change.value.get("core_metadata"):
                self._touched[project] = serial


def _fresh(value: Any) -> bool:
    expires_at = getattr(value, "expires_at", None)
    return expires_at is None or time.monotonic() < expires_at
