"""Blob placements: recorded in the database commit, done on disk after it, then settled.

A commit that stores or removes blobs writes one ``placements`` row per path in the same
SQLite transaction as the records. Small content is in the row itself; larger content
is in a temp file that was synced before the commit. So once the commit is durable, so is
every file it stores, and the reply can go out after a single wait for the disk (the WAL).

After the commit a background thread does the placements on disk, in commit order:
small content is written through a temp file and renamed into place, temp files are
renamed, removed blobs are unlinked. Until then readers get the path's newest placement
from memory (see :meth:`Placements.latest`). The thread then syncs what changed (files and
directories) and deletes the rows: from then on the file tree alone holds the blob.

At start-up the rows still there are done again from the database's word (content
rewritten, temp files renamed, blobs the database no longer knows removed), synced and
deleted, before the leftover temp files are swept.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
from collections.abc import Callable

from cheesecellar.storage import TempBlob
from cheesecellar_fs.blobs import BlobTree
from cheesecellar_fs.blobs import sync_all

log = logging.getLogger(__name__)

#: Seconds the background thread lets placements gather before it does them, so that
#: a burst of commits shares one round of syncs and one deletion of rows.
GATHER_SECONDS = 0.01
#: Placements that may wait for the background thread before new writers wait for it.
MAX_QUEUED = 2048

PLACEMENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS placements (path TEXT PRIMARY KEY, serial INTEGER NOT NULL,
                                       sha256 TEXT, content BLOB, tmpname TEXT);
"""


@dataclasses.dataclass(frozen=True)
class Placement:
    """One path a commit changes: stored (``blob``, with ``sha256``) or removed (both None)."""

    path: str
    serial: int
    sha256: str | None
    blob: TempBlob | None

    def row(self) -> tuple:
        blob = self.blob
        if blob is None:
            return (self.path, self.serial, None, None, None)
        tmpname = None if blob.tmppath is None else blob.tmppath.name
        return (self.path, self.serial, self.sha256, blob.data, tmpname)


def record_placements(conn: sqlite3.Connection, placements: list[Placement]) -> None:
    """Write the placements into the open write transaction (the last one per path wins)."""
    conn.executemany(
        "INSERT OR REPLACE INTO placements (path, serial, sha256, content, tmpname) "
        "VALUES (?, ?, ?, ?, ?)",
        [placement.row() for placement in placements],
    )


class Placements:
    """Does committed placements on disk, in commit order, in a background thread.

    Until a placement is done, :meth:`latest` gives it to readers, so that a path reads as
    its newest commit says even while the file tree still shows an older state.
    ``forget(done)`` deletes the rows of ``done`` (``(path, serial)`` pairs) whose disk
    changes are synced; the store runs it under its writer lock.
    """

    def __init__(self, blobs: BlobTree, forget: Callable[[list[tuple[str, int]]], None]) -> None:
        self.blobs = blobs
        self._forget = forget
        self._queue: list[Placement] = []
        self._latest: dict[str, Placement] = {}
        self._busy = False
        self._stopping = False
        self._draining = 0
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def apply(self, placements: list[Placement]) -> None:
        """Queue committed placements (called right after the commit, in commit order)."""
        if not placements:
            return
        with self._changed:
            if self._stopping:
                return  # the rows stay; the next start-up does them
            self._queue.extend(placements)
            self._latest.update((placement.path, placement) for placement in placements)
            self._changed.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cellar-settle", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue or self._stopping)
                if not self._queue:
                    return
                self._busy = True
                self._changed.wait_for(lambda: self._stopping or self._draining, GATHER_SECONDS)
                batch, self._queue = self._queue, []
                self._changed.notify_all()  # writers waiting for room
            try:
                self._settle(batch)
            except Exception:
                log.exception("could not settle %d placements; start-up will", len(batch))
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def wait_for_room(self) -> None:
        """Hold a new writer back while the background thread is far behind (call it
        before taking the writer lock: the thread needs that lock to finish)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._queue) < MAX_QUEUED or self._stopping)

    def _settle(self, batch: list[Placement]) -> None:
        done, changed = [], []
        for placement in batch:
            try:
                changed += self._do(placement)
            except OSError:
                # Readers keep getting it from memory; start-up places it from its row.
                log.exception("could not place %s; it stays in the database", placement.path)
                continue
            done.append((placement.path, placement.serial))
            with self._changed:
                if self._latest.get(placement.path) is placement:
                    del self._latest[placement.path]
        # A path may be gone again (removed by a later placement): nothing left to sync.
        sync_all(changed, missing_ok=True, pool="settle")
        self._forget(done)

    def _do(self, placement: Placement) -> list[str]:
        blob = placement.blob
        if blob is None:
            return self.blobs.remove(placement.path)
        if blob.tmppath is None:
            return self.blobs.write(placement.path, blob.data)
        return self.blobs.place(placement.path, blob.tmppath)

    def drain(self) -> None:
        """Wait until every placement queued so far is on disk and settled."""
        with self._changed:
            self._draining += 1
            self._changed.notify_all()
            try:
                self._changed.wait_for(lambda: not self._queue and not self._busy)
            finally:
                self._draining -= 1

    def stop(self) -> None:
        """Settle what is queued and end the background thread."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def latest(self, path: str) -> Placement | None:
        """The newest committed placement of ``path`` that is not done on disk yet."""
        return self._latest.get(path)

    def recover(self, conn: sqlite3.Connection) -> int:
        """Redo the placements a crash left unsettled; return how many there were."""
        rows = conn.execute(
            "SELECT path, sha256, content, tmpname FROM placements ORDER BY serial"
        ).fetchall()
        changed: list[str] = []
        for path, sha256, content, tmpname in rows:
            changed += self._redo(conn, path, sha256, content, tmpname)
        sync_all(changed, missing_ok=True)
        conn.execute("DELETE FROM placements")
        return len(rows)

    def _redo(self, conn, path: str, sha256, content, tmpname) -> list[str]:
        row = conn.execute("SELECT sha256 FROM files WHERE path=?", (path,)).fetchone()
        if row is None:
            return self.blobs.remove(path)
        if row[0] != sha256:
            log.error("placement of %s does not match the database; left alone", path)
            return []
        if content is not None:
            # Written without a sync before the crash: it may be torn, write it again.
            return self.blobs.write(path, content)
        tmppath = self.blobs.tmpdir / tmpname
        if tmppath.exists():
            return self.blobs.place(path, tmppath)
        if not self.blobs.path(path).exists():
            log.error("committed file %s is missing: its temp file is gone", path)
        return []
