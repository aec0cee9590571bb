"""Read snapshots kept open while they are current, and the records read at each serial."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

#: Records and file rows remembered per serial, and the largest record remembered.
MEMO_ENTRIES = 4096
MEMO_VALUE_CHARS = 64 * 1024
#: Total characters of record text one memo keeps (about 16 MB), whatever the entries.
MEMO_TOTAL_CHARS = 16 * 1024 * 1024
MISSING = object()


def max_serial(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(serial) FROM changelog").fetchone()
    return -1 if row[0] is None else row[0]


class Snapshot:
    """A reader connection; ``serial`` is the serial of its open read transaction, if any."""

    __slots__ = ("conn", "serial")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.serial: int | None = None

    def open(self, newest: int) -> int:
        """Make sure a read transaction is open; keep the current one if it is at ``newest``."""
        if self.serial is not None:
            if self.serial == newest:
                return self.serial
            self.release()
        self.conn.execute("BEGIN")
        # WAL fixes the snapshot at the first read, so this serial is what every later
        # read of the transaction sees.
        self.serial = max_serial(self.conn)
        return self.serial

    def release(self) -> None:
        if self.serial is not None:
            self.serial = None
            self.conn.execute("ROLLBACK")


class SnapshotPool:
    """Reader connections, the most recently used first, each keeping its snapshot open
    between read transactions for as long as no commit happens.

    Opening a read transaction costs three statements (``BEGIN``, the serial, ``ROLLBACK``)
    and each gives the GIL away; under load a thread then waits for its turn to get it
    back, which is what made a cached page slow. A snapshot at the newest serial is as
    good as a new one, so it is reused. Before each commit the writer ends the idle
    snapshots, so that none of them keeps SQLite from checkpointing the WAL.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._idle: list[Snapshot] = []
        self._all: list[Snapshot] = []
        self._lock = threading.Lock()

    def take(self, newest: int) -> Snapshot:
        """A snapshot no other transaction uses, open at ``newest`` or at a later serial."""
        with self._lock:
            snapshot = self._idle.pop() if self._idle else None
        if snapshot is None:
            snapshot = Snapshot(self._connect())
            with self._lock:
                self._all.append(snapshot)
        try:
            snapshot.open(newest)
        except BaseException:
            self._discard(snapshot)
            raise
        return snapshot

    def give_back(self, snapshot: Snapshot, newest: int) -> None:
        """Return a snapshot after use; one that a commit made stale is ended now."""
        try:
            if snapshot.serial != newest:
                snapshot.release()
        except BaseException:
            self._discard(snapshot)
            raise
        with self._lock:
            self._idle.append(snapshot)

    def release_idle(self) -> None:
        """End every idle snapshot (called by the writer right before it commits).

        A connection that fails to end its snapshot is closed instead: the commit
        must not fail because of a reader.
        """
        with self._lock:
            failed = []
            for snapshot in self._idle:
                try:
                    snapshot.release()
                except sqlite3.Error:
                    failed.append(snapshot)
            for snapshot in failed:
                self._idle.remove(snapshot)
                self._all.remove(snapshot)
                snapshot.conn.close()

    def close(self) -> None:
        with self._lock:
            for snapshot in self._all:
                snapshot.conn.close()
            self._all.clear()
            self._idle.clear()

    def _discard(self, snapshot: Snapshot) -> None:
        with self._lock:
            if snapshot in self._all:
                self._all.remove(snapshot)
        snapshot.conn.close()


class SerialMemo:
    """Raw records and file rows as read at one serial.

    Every snapshot at the same serial holds the same data, so what one read transaction
    read can answer the same question for the next one without asking SQLite. Records
    are kept as JSON text and decoded on every read: callers get their own copy.
    """

    __slots__ = ("chars", "files", "records", "serial")

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.records: dict[str, str | None] = {}
        self.files: dict[str, tuple[str, int] | None] = {}
        self.chars = 0

    def record(self, key: str, load: Callable[[str], str | None]) -> str | None:
        text = self.records.get(key, MISSING)
        if text is MISSING:
            text = load(key)
            size = 0 if text is None else len(text)
            if (
                len(self.records) < MEMO_ENTRIES
                and size <= MEMO_VALUE_CHARS
                and self.chars + size <= MEMO_TOTAL_CHARS
            ):
                self.records[key] = text
                self.chars += size
        return text

    def file_row(self, path: str, load: Callable[[str], tuple | None]) -> tuple | None:
        row = self.files.get(path, MISSING)
        if row is MISSING:
            row = load(path)
            if len(self.files) < MEMO_ENTRIES:
                self.files[path] = row
        return row
