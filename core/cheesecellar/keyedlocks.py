"""One lock per key, made on first use and dropped when nobody holds or waits for it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Hashable
from collections.abc import Iterator


class KeyedLocks:
    """``with locks.hold(key):`` serialises the work on one key (one upstream fetch of
    a page at a time) while work on other keys goes on."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, list] = {}  # key -> [lock, users]

    @contextlib.contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]
