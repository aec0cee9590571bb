"""The indexer thread: follows the changelog and keeps the whoosh index up to date.

It reads committed changes in batches, works out which projects (and indexes, users)
they touch, and writes the current state of each into the index with one whoosh commit
per batch. Requests never wait for it: searches read the last committed index.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from whoosh.reading import SegmentReader

from cheesecellar.model import keys
from cheesecellar_search.documents import documents
from cheesecellar_search.documents import is_private
from cheesecellar_search.schema import owner_key
from cheesecellar_search.store import UNBUILT
from cheesecellar_search.store import IndexStore

log = logging.getLogger(__name__)

#: Serials read into one batch (one whoosh commit).
BATCH_SERIALS = 500
#: Megabytes of postings a writer holds in memory before it sorts them into a temporary
#: file (whoosh's default is 128, per writer, and merging segments goes through it too).
WRITER_MB = 16
#: A segment is merged into the one being written while it holds at most this many times
#: the documents of all smaller segments (and the new ones) together: segment sizes grow
#: geometrically, so there are few segments (a search reads each) and a commit rewrites
#: little of the index.
MERGE_FACTOR = 3
#: Projects written before a full build checks whether it should stop.
BUILD_CHECK = 50
#: Seconds between tries after a failed batch, doubling up to the maximum.
RETRY_FIRST, RETRY_MAX = 1.0, 60.0


@dataclasses.dataclass
class Touched:
    """What a run of changes touched."""

    projects: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    indexes: set[str] = dataclasses.field(default_factory=set)
    users: set[str] = dataclasses.field(default_factory=set)

    def add(self, key: str, value) -> None:
        parsed = keys.parse(key)
        if parsed is None:
            return
        if parsed.kind in ("project", "version"):
            user, index, project = parsed.parts[:3]
            self.projects.add((f"{user}/{index}", project))
        elif parsed.kind == "index":
            self.indexes.add("/".join(parsed.parts))
        elif parsed.kind == "user" and value is None:
            self.users.add(parsed.parts[0])


def merge_geometric(writer, segments: list) -> list:
    """Whoosh merge policy: merge the smallest segments into the new one while each is
    at most :data:`MERGE_FACTOR` times all that is merged already; keep the others."""
    ordered = sorted(segments, key=lambda segment: segment.doc_count())
    merged = max(writer.doc_count(), 1)
    taken = 0
    for segment in ordered:
        if segment.doc_count() > MERGE_FACTOR * merged:
            break
        merged += segment.doc_count()
        taken += 1
    for segment in ordered[:taken]:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    return ordered[taken:]


class Indexer:
    """Keeps ``store`` up to date with ``storage`` from a thread of its own."""

    def __init__(self, storage, types, store: IndexStore, on_commit: Callable[[], None]) -> None:
        self.storage = storage
        self.types = types
        self.store = store
        self.on_commit = on_commit  # tells the searchers to reopen
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.errors = 0
        self.building = False
        self.failing = False
        self._rebuild = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cellar-search", daemon=True)

    # --- control ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def request_rebuild(self) -> None:
        self._rebuild.set()
        self._wake.set()

    @property
    def queued(self) -> int:
        return max(0, self.storage.last_serial() - max(self.store.serial, -1))

    # --- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        delay = RETRY_FIRST
        while not self._stop.is_set():
            try:
                busy = self.step()
            except Exception as exc:  # logged, shown in the status, tried again later
                self._failed(exc)
                self.failing = True
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay, self.failing = RETRY_FIRST, False
            if not busy:
                self._wait()

    def _wait(self) -> None:
        """Until the next commit, a rebuild request or stop (short waits: stop is quick)."""
        if self._wake.is_set():
            self._wake.clear()
            return
        self.storage.wait_for_commit(self.store.serial + 1, timeout=0.25)

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.last_error_at = time.time()
        log.exception("search indexer failed; trying again")

    def step(self) -> bool:
        """Do one piece of work; return whether there was any."""
        if self._rebuild.is_set() or self.store.serial == UNBUILT:
            self._rebuild.clear()
            self.build()
            return True
        last = self.storage.last_serial()
        if self.store.serial >= last:
            return False
        self.follow(min(last, self.store.serial + BATCH_SERIALS))
        return True

    def catch_up(self) -> None:
        """Index everything committed so far, in this thread (offline rebuilds)."""
        while self.step():
            pass

    # --- following the changelog --------------------------------------------------------

    def follow(self, upto: int) -> None:
        """Index the changes of the serials after the indexed one, up to ``upto``."""
        touched = Touched()
        for serial in range(self.store.serial + 1, upto + 1):
            entry = self.storage.changelog(serial)
            for change in entry.changes if entry is not None else ():
                touched.add(change.key, change.value)
        ix = self.store.ix
        with self.storage.transaction() as tx:
            writer = ix.writer(limitmb=WRITER_MB)
            try:
                self._apply(tx, writer, touched)
            except BaseException:
                writer.cancel()
                raise
            writer.commit(mergetype=merge_geometric)
        self.store.save(self.store.current, upto)
        self.on_commit()

    def _apply(self, tx, writer, touched: Touched) -> None:
        for user in touched.users:
            if tx.get(keys.user(user)) is None:
                writer.delete_by_term("user", user)
        for indexname in touched.indexes:
            user, _, index = indexname.partition("/")
            if not is_private(self.types, tx.get(keys.index(user, index))):
                writer.delete_by_term("index", indexname)
        for indexname, project in sorted(touched.projects):
            writer.delete_by_term("owner", owner_key(indexname, project))
            self._add(tx, writer, indexname, project)

    def _add(self, tx, writer, indexname: str, project: str) -> int:
        try:
            found = documents(tx, self.storage, self.types, indexname, project)
        except Exception as exc:  # one bad record must not stop the others
            self._failed(exc)
            return 0
        for document in found:
            writer.add_document(**document)
        return len(found)

    # --- full build ---------------------------------------------------------------------

    def build(self) -> None:
        """Index every private project into a new directory, then switch to it."""
        self.building = True
        name, ix = self.store.new_index()
        try:
            with self.storage.transaction() as tx:
                serial = tx.at_serial
                writer = ix.writer(limitmb=WRITER_MB)
                try:
                    complete = self._add_all(tx, writer)
                except BaseException:
                    writer.cancel()
                    raise
                if not complete:
                    writer.cancel()
                    self.store.discard(name)
                    return
                writer.commit()
            self.store.switch(name, ix, serial)
            log.info("search index built up to serial %s", serial)
        except BaseException:
            self.store.discard(name)
            raise
        finally:
            self.building = False
        self.on_commit()

    def _add_all(self, tx, writer) -> bool:
        count = 0
        for key in tx.keys(keys.INDEX_PREFIX):
            indexname = key[len(keys.INDEX_PREFIX) :]
            if not is_private(self.types, tx.get(key)):
                continue
            prefix = keys.projects_prefix(indexname)
            for project_key in tx.keys(prefix):
                self._add(tx, writer, indexname, project_key[len(prefix) :])
                count += 1
                if count % BUILD_CHECK == 0 and self._stop.is_set():
                    return False
        return True
