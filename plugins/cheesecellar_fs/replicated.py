"""A replica's side of the store: the primary's serials imported, blob content that follows."""

from __future__ import annotations

import json
import sqlite3
from typing import Any
from typing import BinaryIO

from cheesecellar.storage import BlobPending
from cheesecellar.storage import ChangelogEntry
from cheesecellar.storage import FileRef
from cheesecellar.storage import StorageError
from cheesecellar.storage import content_mismatch
from cheesecellar.storage import stage_content
from cheesecellar.storage import stored_changes
from cheesecellar_fs.blobs import INLINE_MAX
from cheesecellar_fs.blobs import sync_all
from cheesecellar_fs.placements import Placement
from cheesecellar_fs.placements import record_placements
from cheesecellar_fs.snapshots import max_serial

#: Blobs a replica knows from the changelog but has no content for yet (node-local).
PENDING_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL,
                                    size INTEGER NOT NULL, serial INTEGER NOT NULL);
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def load_pending(conn: sqlite3.Connection) -> dict[str, FileRef]:
    rows = conn.execute("SELECT path, sha256, size FROM pending ORDER BY serial, path")
    return {path: FileRef(path, sha256, size) for path, sha256, size in rows}


class ReplicatedStore:
    """The replica methods of :class:`~cheesecellar_fs.store.FsStorage` (a mixin).

    Imported serials are committed like the store's own, one SQLite transaction for a
    batch of entries (one wait for the disk). A blob they name gets a ``files`` row at
    once and a ``pending`` row until its content arrives; :meth:`open_file` asks the
    fetcher for a pending blob, so it never serves older or partial content.
    """

    _pending: dict[str, FileRef]
    _fetch: Any

    def follow_primary(self, fetch) -> None:
        self._fetch = fetch

    def pending_files(self) -> list[FileRef]:
        return list(self._pending.values())

    def _open_pending(self, ref: FileRef):
        if self._fetch is not None:
            self._fetch(ref)
        if ref.path in self._pending:
            raise BlobPending(ref.path)
        return self.open_file(ref.path)

    # --- importing serials -------------------------------------------------------------

    def import_changes(self, entries: list[ChangelogEntry]) -> None:
        if not entries:
            return
        self.placements.wait_for_room()
        with self._write_lock:
            if self._closed:
                raise StorageError("storage is closed")
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                placed, pending = self._import_all(conn, entries)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._publish_import(conn, placed, pending, entries[-1].serial)

    def _import_all(self, conn, entries: list[ChangelogEntry]):
        placed: list[Placement] = []
        pending: dict[str, FileRef | None] = {}
        expected = max_serial(conn) + 1
        for entry in entries:
            if entry.serial != expected:
                raise StorageError(f"expected serial {expected}, got {entry.serial}")
            self._import_records(conn, entry)
            self._import_files(conn, entry, placed, pending)
            expected += 1
        return placed, pending

    def _import_records(self, conn, entry: ChangelogEntry) -> None:
        for change in entry.changes:
            if change.value is None:
                conn.execute("DELETE FROM records WHERE key=?", (change.key,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO records (key, value, serial) VALUES (?, ?, ?)",
                    (change.key, _dumps(change.value), entry.serial),
                )
        conn.execute(
            "INSERT INTO changelog (serial, timestamp, changes) VALUES (?, ?, ?)",
            (entry.serial, entry.timestamp, _dumps(stored_changes(entry.changes, entry.files))),
        )

    def _import_files(self, conn, entry: ChangelogEntry, placed: list, pending: dict) -> None:
        serial = entry.serial
        for change in entry.files:
            path = change.path
            if change.sha256 is None:
                conn.execute("DELETE FROM files WHERE path=?", (path,))
                conn.execute("DELETE FROM pending WHERE path=?", (path,))
                placed.append(Placement(path, serial, None, None))
                pending[path] = None
                continue
            row = conn.execute("SELECT sha256 FROM files WHERE path=?", (path,)).fetchone()
            conn.execute(
                "INSERT OR REPLACE INTO files (path, sha256, size, serial) VALUES (?, ?, ?, ?)",
                (path, change.sha256, change.size, serial),
            )
            waiting = pending[path] if path in pending else self._pending.get(path)
            if row is not None and row[0] == change.sha256 and waiting is None:
                continue  # the same content is here already
            conn.execute(
                "INSERT OR REPLACE INTO pending (path, sha256, size, serial) VALUES (?, ?, ?, ?)",
                (path, change.sha256, change.size, serial),
            )
            pending[path] = FileRef(path, change.sha256, change.size)
        record_placements(conn, placed)

    def _publish_import(self, conn, placed, pending: dict, serial: int) -> None:
        with self._publishing:
            try:
                self._snapshots.release_idle()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            for path, ref in pending.items():
                self._pending.pop(path, None)
                if ref is not None:
                    self._pending[path] = ref
            self.placements.apply(placed)
        with self._committed:
            self._last_serial = serial
            self._committed.notify_all()

    # --- blob content ------------------------------------------------------------------

    def store_replicated_blob(self, path: str, fp: BinaryIO) -> bool:
        (result,) = self.store_replicated_blobs([(path, fp)])
        if isinstance(result, StorageError):
            raise result
        return result

    def store_replicated_blobs(self, items) -> list:
        """Check each content against its pending blob, then settle all in one commit."""
        results: list = [False] * len(items)
        staged: list[tuple[int, FileRef, Any]] = []
        try:
            for number, (path, content) in enumerate(items):
                ref = self._pending.get(path)
                if ref is None:
                    continue
                blob = stage_content(content, self.blobs.tmpdir, INLINE_MAX)
                problem = content_mismatch(path, blob, ref)
                if problem is not None:
                    _discard(blob)
                    results[number] = problem
                    continue
                staged.append((number, ref, blob))
            temps = [blob.tmppath for _n, _ref, blob in staged if blob.tmppath is not None]
            if temps:
                sync_all([*temps, self.blobs.tmpdir])
            settled = self._settle_blobs([(ref, blob) for _n, ref, blob in staged])
        except BaseException:
            for _number, _ref, blob in staged:
                _discard(blob)
            raise
        for (number, _ref, blob), done in zip(staged, settled, strict=True):
            results[number] = done
            if not done:
                _discard(blob)
        return results

    def _settle_blobs(self, staged: list[tuple[FileRef, Any]]) -> list[bool]:
        """Record the content of the blobs still pending as staged (no new serial: only
        content arrives); one result per item, False for the others."""
        if not staged:
            return []
        self.placements.wait_for_room()
        with self._write_lock:
            if self._closed:
                return [False] * len(staged)
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                settled, placements = self._settle_rows(conn, staged)
                if not placements:
                    conn.execute("ROLLBACK")
                    return settled
                record_placements(conn, placements)
                with self._publishing:
                    conn.execute("COMMIT")
                    self.placements.apply(placements)
                    for placement in placements:
                        del self._pending[placement.path]
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return settled

    def _settle_rows(self, conn, staged: list[tuple[FileRef, Any]]):
        """Delete the pending rows of the blobs whose pending content is still the one
        staged (a blob replaced or removed meanwhile is not settled with stale content)."""
        settled, placements, seen = [], [], set()
        for ref, blob in staged:
            if ref.path in seen or self._pending.get(ref.path) != ref:
                settled.append(False)
                continue
            seen.add(ref.path)
            row = conn.execute("SELECT serial FROM pending WHERE path=?", (ref.path,)).fetchone()
            conn.execute("DELETE FROM pending WHERE path=?", (ref.path,))
            placements.append(Placement(ref.path, row[0], ref.sha256, blob))
            settled.append(True)
        return settled, placements


def _discard(blob) -> None:
    if blob.tmppath is not None:
        blob.tmppath.unlink(missing_ok=True)
