"""SQLite-backed IStorage: snapshot reads per thread, one writer, a changelog per serial."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zope.interface import implementer

from cheesecellar.interfaces import IStorage
from cheesecellar.interfaces import ITransaction
from cheesecellar.storage import Change
from cheesecellar.storage import ChangelogEntry
from cheesecellar.storage import FileRef
from cheesecellar.storage import StagedTransaction
from cheesecellar.storage import StorageError
from cheesecellar.storage import file_changes
from cheesecellar.storage import split_stored_changes
from cheesecellar.storage import stored_changes
from cheesecellar_fs.blobs import BlobTree
from cheesecellar_fs.blobs import sync_all
from cheesecellar_fs.placements import PLACEMENTS_SCHEMA
from cheesecellar_fs.placements import Placement
from cheesecellar_fs.placements import Placements
from cheesecellar_fs.placements import record_placements
from cheesecellar_fs.replicated import PENDING_SCHEMA
from cheesecellar_fs.replicated import ReplicatedStore
from cheesecellar_fs.replicated import load_pending
from cheesecellar_fs.snapshots import SerialMemo
from cheesecellar_fs.snapshots import SnapshotPool
from cheesecellar_fs.snapshots import max_serial

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, value TEXT NOT NULL,
                                    serial INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS changelog (serial INTEGER PRIMARY KEY, timestamp REAL NOT NULL,
                                      changes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL,
                                  size INTEGER NOT NULL, serial INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

DB_NAME = "cellar.sqlite"


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@implementer(ITransaction)
class FsTransaction(StagedTransaction):
    def __init__(
        self,
        store: FsStorage,
        conn: sqlite3.Connection,
        write: bool,
        at_serial: int,
        memo: SerialMemo | None = None,
    ) -> None:
        self._store = store
        self._conn = conn
        self._memo = memo
        super().__init__(at_serial, write)

    def _read(self, key: str) -> Any:
        if self._memo is None:
            text = self._record_text(key)
        else:
            text = self._memo.record(key, self._record_text)
        return None if text is None else json.loads(text)

    def _record_text(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM records WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def _scan(self, prefix: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT key FROM records WHERE key >= ? AND key < ? ORDER BY key",
            (prefix, prefix + "\U0010ffff"),
        )
        return [key for (key,) in rows]

    def _file_row(self, path: str) -> FileRef | None:
        if self._memo is None:
            row = self._file_columns(path)
        else:
            row = self._memo.file_row(path, self._file_columns)
        return None if row is None else FileRef(path, row[0], row[1])

    def _file_columns(self, path: str) -> tuple[str, int] | None:
        row = self._conn.execute("SELECT sha256, size FROM files WHERE path=?", (path,)).fetchone()
        return None if row is None else (row[0], row[1])

    def _stage_blob(self, fp):
        return self._store.blobs.stage(fp)


@implementer(IStorage)
class FsStorage(ReplicatedStore):
    """Records and changelog in ``cellar.sqlite``; blobs under ``+files``."""

    def __init__(self, basedir: Path, options: Mapping[str, str] | None = None) -> None:
        if options:
            raise StorageError(f"storage 'fs' takes no options, got {', '.join(options)}")
        self.basedir = Path(basedir)
        self.basedir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.basedir / DB_NAME
        self.blobs = BlobTree(self.basedir / "+files")
        self._writer = _connect(self.db_path)
        self._writer.executescript(SCHEMA + PLACEMENTS_SCHEMA + PENDING_SCHEMA)
        self._write_lock = threading.Lock()
        # Held by a commit until its placements are queued (see open_file).
        self._publishing = threading.Lock()
        self._local = threading.local()
        self._outside: list[sqlite3.Connection] = []
        self._outside_lock = threading.Lock()
        self._snapshots = SnapshotPool(lambda: _connect(self.db_path))
        self._committed = threading.Condition()
        self._last_serial = max_serial(self._writer)
        self._memo = SerialMemo(self._last_serial)
        self._closed = False
        self._pending = load_pending(self._writer)
        self._fetch = None
        self.placements = Placements(self.blobs, self._forget_placements)
        self.placements.recover(self._writer)
        self.blobs.clear_tmp()

    # --- transactions -----------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, write: bool = False) -> Iterator[FsTransaction]:
        if self._closed:
            raise StorageError("storage is closed")
        if write:
            if self._fetch is not None:
                raise StorageError("this store follows a primary: it takes no writes of its own")
            self.placements.wait_for_room()
            with self._write_lock:
                yield from self._write_transaction()
        else:
            yield from self._read_transaction()

    def _read_transaction(self) -> Iterator[FsTransaction]:
        snapshot = self._snapshots.take(self._last_serial)
        try:
            serial = snapshot.serial
            yield FsTransaction(self, snapshot.conn, False, serial, self._memo_at(serial))
        finally:
            self._snapshots.give_back(snapshot, self._last_serial)

    def _memo_at(self, serial: int) -> SerialMemo | None:
        """The memo of ``serial`` if it is the newest; older snapshots read on their own."""
        memo = self._memo
        if memo.serial == serial:
            return memo
        if serial != self._last_serial:
            return None
        memo = self._memo = SerialMemo(serial)
        return memo

    def _write_transaction(self) -> Iterator[FsTransaction]:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        tx = FsTransaction(self, conn, True, max_serial(conn))
        try:
            yield tx
        except BaseException:
            conn.execute("ROLLBACK")
            tx.discard_blobs()
            raise
        if not tx.has_changes():
            conn.execute("ROLLBACK")
            return
        serial = self._commit(conn, tx)
        if serial is not None:
            tx.run_callbacks(serial)

    def _commit(self, conn: sqlite3.Connection, tx: FsTransaction) -> int | None:
        """Write the staged changes as the next serial; None if they change nothing."""
        serial = tx.at_serial + 1
        # Readers that miss a file wait on this lock until the placements are queued.
        with self._publishing:
            try:
                placed = self._write_serial(conn, tx, serial)
                if placed is None:
                    conn.execute("ROLLBACK")
                    return None
                self._snapshots.release_idle()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                tx.discard_blobs()
                raise
            self.placements.apply(placed)
        with self._committed:
            self._last_serial = serial
            self._committed.notify_all()
        return serial

    def _write_serial(self, conn: sqlite3.Connection, tx: FsTransaction, serial: int):
        """Stage the records, the changelog entry and the files of ``serial`` in the open
        transaction; return the placements, or None if nothing changes."""
        changes = [
            change
            for key, value in tx.staged_changes()
            if (change := self._apply(conn, key, value, serial)) is not None
        ]
        files = file_changes(tx.staged_files())
        if not changes and not files:
            return None
        conn.execute(
            "INSERT INTO changelog (serial, timestamp, changes) VALUES (?, ?, ?)",
            (serial, time.time(), _dumps(stored_changes(changes, files))),
        )
        return self._commit_files(conn, tx, serial)

    def _apply(self, conn: sqlite3.Connection, key: str, value: Any, serial: int):
        """Apply one staged change; None when it changes nothing (the same value, or the
        removal of a key that does not exist), which keeps it out of the changelog."""
        row = conn.execute("SELECT serial, value FROM records WHERE key=?", (key,)).fetchone()
        if value is None:
            if row is None:
                return None
            conn.execute("DELETE FROM records WHERE key=?", (key,))
            return Change(key, None, row[0])
        dumped = _dumps(value)
        if row is not None and row[1] == dumped:
            return None
        conn.execute(
            "INSERT INTO records (key, value, serial) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value, serial=excluded.serial",
            (key, dumped, serial),
        )
        return Change(key, value, -1 if row is None else row[0])

    def _commit_files(self, conn: sqlite3.Connection, tx: FsTransaction, serial: int):
        """Record the staged files and their placements in the open transaction.

        Temp files (content too large to commit inline) are synced first, with their
        directory, so the commit never names a file the disk may not have.
        """
        staged = list(tx.staged_files())
        temps = [blob.tmppath for _p, _r, blob in staged if blob and blob.tmppath]
        if temps:
            sync_all([*temps, self.blobs.tmpdir])
        placed = []
        for path, ref, blob in staged:
            if ref is None:
                conn.execute("DELETE FROM files WHERE path=?", (path,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO files (path, sha256, size, serial) VALUES (?, ?, ?, ?)",
                    (path, ref.sha256, ref.size, serial),
                )
            placed.append(Placement(path, serial, ref and ref.sha256, blob))
        record_placements(conn, placed)
        return placed

    # --- reads outside transactions ---------------------------------------------------

    def last_serial(self) -> int:
        return self._last_serial

    def last_commit_timestamp(self) -> float | None:
        entry = self._query_one("SELECT timestamp FROM changelog ORDER BY serial DESC LIMIT 1")
        return None if entry is None else entry[0]

    def changelog(self, serial: int) -> ChangelogEntry | None:
        row = self._query_one("SELECT timestamp, changes FROM changelog WHERE serial=?", (serial,))
        if row is None:
            return None
        changes, files = split_stored_changes(json.loads(row[1]))
        return ChangelogEntry(serial, row[0], changes, files)

    def wait_for_commit(self, serial: int, timeout: float) -> int:
        with self._committed:
            self._committed.wait_for(lambda: self._last_serial >= serial, timeout)
            return self._last_serial

    def open_file(self, path: str):
        """Open a committed blob; one committed a moment ago may not be on disk yet."""
        pending = self._pending.get(path)
        if pending is not None:
            return self._open_pending(pending)
        placement = self.placements.latest(path)
        if placement is None:
            try:
                return self.blobs.open(path)
            except FileNotFoundError:
                # A reader may see a commit before its placements are queued: wait for it.
                with self._publishing:
                    placement = self.placements.latest(path)
                    pending = self._pending.get(path)
                if pending is not None:
                    return self._open_pending(pending)
                if placement is None:
                    return self.blobs.open(path)  # placed meanwhile, or really missing
        blob = placement.blob
        if blob is None:
            raise FileNotFoundError(path)
        if blob.tmppath is None:
            return io.BytesIO(blob.data)
        with contextlib.suppress(FileNotFoundError):
            return open(blob.tmppath, "rb")
        return self.blobs.open(path)  # placed since

    def file_path(self, path: str) -> Path:
        """Where a committed blob lives on disk, for zero-copy serving (once it is there)."""
        self.wait_for_files()
        return self.blobs.path(path)

    def wait_for_files(self) -> None:
        """Wait until the file tree holds every blob committed so far, synced."""
        self.placements.drain()

    def get_meta(self, name: str) -> Any:
        row = self._query_one("SELECT value FROM meta WHERE name=?", (name,))
        return None if row is None else json.loads(row[0])

    def set_meta(self, name: str, value: Any) -> None:
        """Write node-local bookkeeping without waiting for the disk.

        The value is in the WAL at once and durable with the next commit (whose sync
        covers the whole WAL). A power cut before that brings back the previous value,
        which repeats work and loses nothing: the event thread, which writes after every
        commit, then delivers a few serials again (events are at-least-once anyway).
        """
        with self._write_lock, self._unsynced():
            self._writer.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, _dumps(value))
            )

    @contextlib.contextmanager
    def _unsynced(self) -> Iterator[None]:
        """Writes of the writer connection that do not wait for the disk (under the lock):
        they are in the WAL at once and durable with the next synced commit."""
        self._writer.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self._writer.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        self.placements.stop()
        with self._write_lock:
            self._closed = True
            self._snapshots.close()
            with self._outside_lock:
                for conn in self._outside:
                    conn.close()
                self._outside.clear()
            self._writer.close()

    # --- helpers ----------------------------------------------------------------------

    def _query_one(self, sql: str, params: tuple = ()):
        """Run a query outside any snapshot (a connection per thread, autocommit)."""
        conn = getattr(self._local, "outside", None)
        if conn is None:
            conn = self._local.outside = _connect(self.db_path)
            with self._outside_lock:
                self._outside.append(conn)
        return conn.execute(sql, params).fetchone()

    def _forget_placements(self, done: list[tuple[str, int]]) -> None:
        """Delete the rows of settled placements (their files and directories are synced)."""
        if not done:
            return
        with self._write_lock:
            if self._closed:
                return
            with self._unsynced():
                self._delete_placements(done)

    def _delete_placements(self, done: list[tuple[str, int]]) -> None:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("DELETE FROM placements WHERE path=? AND serial=?", done)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
