"""The search backend as the server gets it: whoosh is imported and the index opened in a thread."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from cheesecellar.errors import CellarError

log = logging.getLogger(__name__)

#: Seconds a search waits for the index to be opened (it takes about 0.1 s).
OPEN_WAIT = 30.0
#: Seconds after start-up before the index is opened (and whoosh imported) when no
#: search and no commit asks for it sooner: start-up does not compete with it for the CPU.
OPEN_DELAY = 1.0


class SearchService:
    """:class:`cheesecellar.search.SearchBackend` that hands each call to a
    :class:`~cheesecellar_search.backend.WhooshSearch` once one is open: start-up does
    not wait for importing whoosh and opening the index."""

    def __init__(self, storage, types, serverdir: Path) -> None:
        self.storage = storage
        self._args = (storage, types, serverdir)
        self._backend = None
        self._closed = False
        self._lock = threading.Lock()
        self._opened = threading.Event()
        self._wanted = threading.Event()
        self._thread = threading.Thread(target=self._open, name="cellar-search-open", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._wanted.set()
        with self._lock:
            self._closed = True
            backend = self._backend
        if backend is not None:
            backend.close()

    def _wait_for_need(self) -> None:
        """Until a search needs the index, a commit needs indexing or OPEN_DELAY passed."""
        serial = self.storage.last_serial()
        deadline = time.monotonic() + OPEN_DELAY
        while not self._wanted.is_set() and time.monotonic() < deadline:
            self.storage.wait_for_commit(serial + 1, timeout=0.05)
            if self.storage.last_serial() > serial:
                return

    def _open(self) -> None:
        self._wait_for_need()
        try:
            from cheesecellar_search.backend import WhooshSearch

            backend = WhooshSearch(*self._args)
            with self._lock:
                if not self._closed:
                    backend.start()
                    self._backend = backend
        except Exception:  # logged; searches answer 503
            log.exception("the search index cannot be opened")
        finally:
            self._opened.set()

    @property
    def backend(self):
        """The open whoosh backend (waits for it); a 503 when it cannot be opened."""
        self._wanted.set()
        if not self._opened.wait(OPEN_WAIT):
            raise CellarError("search is starting; try again soon", 503)
        if self._backend is None:
            raise CellarError("search is not available: its index cannot be opened", 503)
        return self._backend

    # --- the SearchBackend protocol ---------------------------------------------------

    def search(
        self, query: str, *, page: int = 1, per_page: int = 20, indexname: str | None = None
    ):
        return self.backend.search(query, page=page, per_page=per_page, indexname=indexname)

    def search_fields(self, fields, operator: str, indexname: str | None = None):
        return self.backend.search_fields(fields, operator, indexname)

    def rebuild(self) -> None:
        self.backend.rebuild()

    def status(self) -> dict[str, Any]:
        if self._backend is not None:
            return self._backend.status()
        failed = self._opened.is_set()
        return {
            "indexed-serial": -1,
            "queued": self.storage.last_serial() + 1,
            "building": not failed,
            "errors": int(failed),
            "failing": failed,
            "last-error": "the search index cannot be opened" if failed else None,
            "last-error-at": None,
            "documents": 0,
            "mirror-names-mapped": 0,
        }
