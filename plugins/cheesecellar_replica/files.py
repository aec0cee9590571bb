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
from cheesecellar_replica.protocol import BATCH_BLOB_MAX
from cheesecellar_replica.protocol import BATCH_PATHS

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
    """Worker threads that bring pending blobs into ``storage`` from ``client``.

    ``hook`` (the plugin manager's) hears of every blob that became readable through
    ``cellar_on_replicated_file``.
    """

    def __init__(self, storage, client, threads: int = 4, hook=None) -> None:
        self.storage = storage
        self.client = client
        self.threads = threads
        self.hook = hook
        self.serials = SerialFinder(storage)
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
        self.hook_errors = 0

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

    def add(self, ref: FileRef, delay: float = 0.0, serial: int | None = None) -> None:
        """Queue ``ref`` (again) to be fetched after ``delay`` seconds; ``serial`` is the
        one whose change named this content, when the caller knows it."""
        if serial is not None:
            self.serials.remember(ref, serial)
        with self._changed:
            self._queued[ref.path] = ref
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), ref.path))
            self._changed.notify()

    def queue_length(self) -> int:
        with self._changed:
            return len(self._queued)

    def _next(self) -> list[FileRef]:
        """The next due blobs: one, or several small ones (empty when stopping)."""
        with self._changed:
            while not self._stopping:
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    batch = self._take_due(now)
                    if batch:
                        return batch
                    continue
                timeout = self._due[0][0] - now if self._due else None
                self._changed.wait(timeout)
            return []

    def _take_due(self, now: float) -> list[FileRef]:
        """Pop a due blob; if it is small, the small ones due after it too (one request
        brings them all)."""
        batch: list[FileRef] = []
        while self._due and self._due[0][0] <= now and len(batch) < BATCH_PATHS:
            path = self._due[0][2]
            ref = self._queued.get(path)
            small = ref is not None and ref.size <= BATCH_BLOB_MAX
            if batch and ref is not None and not small:
                break
            heapq.heappop(self._due)
            if ref is None:
                continue
            del self._queued[path]
            batch.append(ref)
            if not small:
                break
        return batch

    def _work(self) -> None:
        while refs := self._next():
            if len(refs) == 1:
                self.fetch(refs[0], from_pool=True)
            else:
                self._fetch_batch(refs)

    # --- fetching ---------------------------------------------------------------------

    def fetch_now(self, ref: FileRef) -> None:
        """Bring ``ref`` for a reader (the store's fetcher); waits for a running download."""
        self.fetch(ref, from_pool=False)

    def fetch(self, ref: FileRef, from_pool: bool) -> bool:
        """Download ``ref`` unless a download of it is running (then wait for that one)."""
        running = self._claim(ref)
        if running is None:
            with self._changed:
                running = self._running.get(ref.path)
            if running is not None:
                running.wait(ON_DEMAND_WAIT)
            return True
        try:
            return self._download(ref, from_pool)
        finally:
            self._release(ref, running)

    def _claim(self, ref: FileRef) -> threading.Event | None:
        """Mark ``ref`` as being downloaded; None if a download of it is running."""
        with self._changed:
            if ref.path in self._running:
                return None
            running = self._running[ref.path] = threading.Event()
            return running

    def _release(self, ref: FileRef, running: threading.Event) -> None:
        with self._changed:
            del self._running[ref.path]
        running.set()

    def _fetch_batch(self, refs: list[FileRef]) -> None:
        """Small blobs in one request, stored in one commit; any the answer lacks are
        fetched one by one (a primary without batches answers none)."""
        claimed = [(ref, running) for ref in refs if (running := self._claim(ref)) is not None]
        try:
            try:
                contents = self.client.small_blobs([ref.path for ref, _running in claimed])
            except Exception as exc:  # PrimaryError, or a connection broken in many ways
                log.debug("no batch from the primary (%s), one blob at a time", exc)
                contents = {}
            self._store([(ref, contents[ref.path]) for ref, _ in claimed if ref.path in contents])
            for ref, _running in claimed:
                if ref.path not in contents:
                    self._download(ref, from_pool=True)
        finally:
            for ref, running in claimed:
                self._release(ref, running)

    def _store(self, found: list[tuple[FileRef, bytes]]) -> None:
        """Store fetched contents in one commit; each that is refused counts as failed."""
        if not found:
            return
        items = [(ref.path, content) for ref, content in found]
        try:
            results = self.storage.store_replicated_blobs(items)
        except Exception as exc:  # StorageError, OSError: none of them is stored
            reason = str(exc) if isinstance(exc, StorageError | OSError) else repr(exc)
            for ref, _content in found:
                self._failed(ref, reason, from_pool=True)
            return
        outcomes = list(zip([ref for ref, _content in found], results, strict=True))
        for ref, result in outcomes:
            if isinstance(result, Exception):
                self._failed(ref, str(result), from_pool=True)
        self._succeeded([ref for ref, result in outcomes if result is True])
        self._succeeded([ref for ref, result in outcomes if result is False], stored=False)

    def _download(self, ref: FileRef, from_pool: bool) -> bool:
        try:
            with self.client.open_blob(ref.path) as response:
                stored = self.storage.store_replicated_blob(ref.path, response.raw)
        except (PrimaryError, StorageError, OSError) as exc:
            return self._failed(ref, str(exc), from_pool)
        except Exception as exc:  # a broken connection surfaces as many types
            return self._failed(ref, f"{type(exc).__name__}: {exc}", from_pool)
        self._succeeded([ref], stored)
        return True

    def _succeeded(self, refs: list[FileRef], stored: bool = True) -> None:
        """Count ``refs`` as fetched; announce them if this fetch ``stored`` them."""
        if not refs:
            return
        with self._changed:
            self.fetched += len(refs)
            released = []
            for ref in refs:
                self._attempts.pop(ref.path, None)
                if self.quarantined.pop(ref.path, None) is not None:
                    released.append(ref.path)
        for path in released:
            log.warning("replicated %s after all (it was quarantined)", path)
        if released:
            self._save_quarantine()
        if stored:
            self._announce(refs)

    def _announce(self, refs: list[FileRef]) -> None:
        """Tell the plugins that ``refs`` are readable; their errors never stop the pool."""
        if self.hook is None or not self.hook.cellar_on_replicated_file.get_hookimpls():
            for ref in refs:
                self.serials.forget(ref)
            return
        for ref in refs:
            serial = self.serials.pop(ref)
            try:
                self.hook.cellar_on_replicated_file(
                    relpath=ref.path, sha256=ref.sha256, size=ref.size, serial=serial
                )
            except Exception:
                with self._changed:
                    self.hook_errors += 1
                log.exception("a cellar_on_replicated_file hook failed for %s", ref.path)

    def _failed(self, ref: FileRef, reason: str, from_pool: bool) -> bool:
        """Retry later, or quarantine; a blob removed on the primary since (its 404,
        :class:`BlobGone`) is dropped once the later serial that removes it is here."""
        with self._changed:
            self.failures += 1
            attempts = self._attempts[ref.path] = self._attempts.get(ref.path, 0) + 1
        if not self._still_wanted(ref):
            self.serials.forget(ref)
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


class SerialFinder:
    """The serial whose change named each queued blob's content.

    The follower tells it for what it imports; for blobs still pending from before a
    restart it is looked up in the changelog, newest first, in one scan shared by all
    of them, which goes back no further than the oldest such blob.
    """

    def __init__(self, storage) -> None:
        self.storage = storage
        self._known: dict[str, tuple[FileRef, int]] = {}
        self._cursor: int | None = None  # the next serial to scan, downwards
        self._lock = threading.Lock()
        self._scan_lock = threading.Lock()

    def remember(self, ref: FileRef, serial: int) -> None:
        with self._lock:
            self._known[ref.path] = (ref, serial)

    def forget(self, ref: FileRef) -> None:
        with self._lock:
            if self._known.get(ref.path, (None,))[0] == ref:
                del self._known[ref.path]

    def pop(self, ref: FileRef) -> int:
        """The serial of ``ref`` (-1 if the changelog does not name it), forgotten."""
        with self._lock:
            known = self._known.pop(ref.path, None)
        if known is not None and known[0] == ref:
            return known[1]
        with self._scan_lock:  # not the lock of remember(): the follower never waits
            serial = self._scan_for(ref)
        with self._lock:
            self._known.pop(ref.path, None)
        return serial

    def _scan_for(self, ref: FileRef) -> int:
        """Scan down from where the last scan stopped (the latest serial at first),
        remembering the first sight of every path that is still pending."""
        if self._cursor is None:
            self._cursor = self.storage.last_serial()
        pending = {pending.path: pending for pending in self.storage.pending_files()}
        pending[ref.path] = ref
        while self._cursor >= 0:
            entry = self.storage.changelog(self._cursor)
            self._cursor -= 1
            for change in () if entry is None else entry.files:
                wanted = pending.get(change.path)
                if wanted is not None and change.sha256 == wanted.sha256:
                    with self._lock:
                        self._known.setdefault(change.path, (wanted, entry.serial))
                    if change.path == ref.path:
                        return entry.serial
        return -1
