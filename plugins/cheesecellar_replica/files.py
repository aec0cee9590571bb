"""A replica's file pool: fetches new blobs from the primary, verified, with retries.

A blob that keeps failing is quarantined (remembered in node-local metadata and shown in
``/+status``) and tried again only rarely, or when someone asks for it; the changelog
stream never waits for a file. Content becomes visible only after the store checked its
sha256 and size, so a failed or interrupted download leaves nothing but a temp file.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time

from cheesecellar.storage import FileRef
from cheesecellar.storage import StorageError
from cheesecellar_replica.client import PrimaryError

log = logging.getLogger(__name__)

#: Failed attempts after which a blob is quarantined.
MAX_ATTEMPTS = 5
#: Seconds before the first retry; doubled for each later one, up to RETRY_CAP.
RETRY_FIRST = 1.0
RETRY_CAP = 60.0
#: Seconds before a quarantined blob is tried again by the pool.
QUARANTINE_RETRY = 600.0
#: Seconds a reader waits for a download already running for the same blob.
ON_DEMAND_WAIT = 120.0
QUARANTINE_META = "replica-quarantine"


class FilePool:
    """Worker threads that bring pending blobs into ``storage`` from ``client``."""

    def __init__(self, storage, client, threads: int = 4) -> None:
        self.storage = storage
        self.client = client
        self.threads = threads
        self._due: list[tuple[float, int, str]] = []  # (when, order, path)
        self._queued: dict[str, FileRef] = {}
        self._attempts: dict[str, int] = {}
        self._running: dict[str, threading.Event] = {}
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._stopping = False
        self._workers: list[threading.Thread] = []
        self.quarantined: dict[str, dict] = dict(storage.get_meta(QUARANTINE_META) or {})
        self.fetched = 0
        self.failures = 0

    # --- queue ------------------------------------------------------------------------

    def start(self) -> None:
        for ref in self.storage.pending_files():
            self.add(ref)
        for number in range(self.threads):
            worker = threading.Thread(
                target=self._work, name=f"cellar-replica-files-{number}", daemon=True
            )
            worker.start()
            self._workers.append(worker)

    def stop(self, timeout: float = 10.0) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        for worker in self._workers:
            worker.join(timeout)

    def add(self, ref: FileRef, delay: float = 0.0) -> None:
        """Queue ``ref`` (again) to be fetched after ``delay`` seconds."""
        with self._changed:
            self._queued[ref.path] = ref
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), ref.path))
            self._changed.notify()

    def queue_length(self) -> int:
        with self._changed:
            return len(self._queued)

    def _next(self) -> FileRef | None:
        with self._changed:
            while not self._stopping:
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    _when, _order, path = heapq.heappop(self._due)
                    ref = self._queued.pop(path, None)
                    if ref is not None:
                        return ref
                    continue
                timeout = self._due[0][0] - now if self._due else None
                self._changed.wait(timeout)
            return None

    def _work(self) -> None:
        while (ref := self._next()) is not None:
            self.fetch(ref, from_pool=True)

    # --- fetching ---------------------------------------------------------------------

    def fetch_now(self, ref: FileRef) -> None:
        """Bring ``ref`` for a reader (the store's fetcher); waits for a running download."""
        self.fetch(ref, from_pool=False)

    def fetch(self, ref: FileRef, from_pool: bool) -> bool:
        """Download ``ref`` unless a download of it is running (then wait for that one)."""
        with self._changed:
            running = self._running.get(ref.path)
            if running is None:
                running = self._running[ref.path] = threading.Event()
                mine = True
            else:
                mine = False
        if not mine:
            running.wait(ON_DEMAND_WAIT)
            return True
        try:
            return self._download(ref, from_pool)
        finally:
            with self._changed:
                del self._running[ref.path]
            running.set()

    def _download(self, ref: FileRef, from_pool: bool) -> bool:
        try:
            with self.client.open_blob(ref.path) as response:
                self.storage.store_replicated_blob(ref.path, response.raw)
        except (PrimaryError, StorageError, OSError) as exc:
            return self._failed(ref, str(exc), from_pool)
        except Exception as exc:  # a broken connection surfaces as many types
            return self._failed(ref, f"{type(exc).__name__}: {exc}", from_pool)
        self._succeeded(ref)
        return True

    def _succeeded(self, ref: FileRef) -> None:
        with self._changed:
            self.fetched += 1
            self._attempts.pop(ref.path, None)
            released = self.quarantined.pop(ref.path, None)
        if released is not None:
            log.warning("replicated %s after all (it was quarantined)", ref.path)
            self._save_quarantine()

    def _failed(self, ref: FileRef, reason: str, from_pool: bool) -> bool:
        """Retry later, or quarantine; a blob removed on the primary since (its 404,
        :class:`BlobGone`) is dropped once the later serial that removes it is here."""
        with self._changed:
            self.failures += 1
            attempts = self._attempts[ref.path] = self._attempts.get(ref.path, 0) + 1
        if not self._still_wanted(ref):
            with self._changed:
                self._attempts.pop(ref.path, None)
                released = self.quarantined.pop(ref.path, None)
            if released is not None:
                self._save_quarantine()
            return False
        if attempts >= MAX_ATTEMPTS:
            self._quarantine(ref, reason, attempts)
            self.add(ref, QUARANTINE_RETRY)
        elif from_pool or ref.path not in self._queued:
            if attempts == 1:
                log.warning("could not replicate %s, will retry: %s", ref.path, reason)
            self.add(ref, min(RETRY_FIRST * 2 ** (attempts - 1), RETRY_CAP))
        return False

    def _still_wanted(self, ref: FileRef) -> bool:
        with self.storage.transaction() as tx:
            return tx.file_info(ref.path) == ref and ref in self.storage.pending_files()

    def _quarantine(self, ref: FileRef, reason: str, attempts: int) -> None:
        with self._changed:
            first = ref.path not in self.quarantined
            self.quarantined[ref.path] = {
                "sha256": ref.sha256,
                "size": ref.size,
                "attempts": attempts,
                "error": reason,
                "since": time.time(),
            }
        if first:
            log.error(
                "quarantined %s after %d failed attempts (replication goes on): %s",
                ref.path,
                attempts,
                reason,
            )
        self._save_quarantine()

    def _save_quarantine(self) -> None:
        with self._changed:
            snapshot = dict(self.quarantined)
        self.storage.set_meta(QUARANTINE_META, snapshot)
