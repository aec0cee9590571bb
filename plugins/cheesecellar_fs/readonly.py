"""A read-only snapshot of an fs server directory, safe beside the server that runs on it.

Opening the store the way the server does would run its start-up work (redoing blob
placements, sweeping temp files) under the feet of a running server. This reader opens
the database read-only in WAL mode instead: one read transaction is one consistent
snapshot, it never writes, takes no lock and never blocks the server's writer.

A blob committed shortly before the snapshot may not be in the file tree yet: the
snapshot's ``placements`` rows then hold its content (small blobs) or name its synced
temp file, which the server renames into place a moment later.
"""

from __future__ import annotations

import io
import json
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any
from typing import BinaryIO

from cheesecellar.storage import FileRef
from cheesecellar.storage import check_relpath
from cheesecellar_fs.store import DB_NAME

FILES_ROOT = "+files"


class ReadOnlySnapshot:
    """Records and blobs of an fs server directory as of one serial (an IReadSnapshot)."""

    def __init__(self, serverdir: Path) -> None:
        db = Path(serverdir) / DB_NAME
        if not db.is_file():
            raise FileNotFoundError(f"{serverdir} holds no {DB_NAME}")
        uri = f"file:{urllib.parse.quote(str(db.resolve()))}?mode=ro"
        self._conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self.root = Path(serverdir) / FILES_ROOT
        try:
            self._conn.execute("BEGIN")
            # The first read fixes the snapshot: everything below reads the same serial.
            row = self._conn.execute("SELECT max(serial) FROM changelog").fetchone()
            self.serial = -1 if row[0] is None else row[0]
            tables = self._tables()
            self._placements = self._load_placements() if "placements" in tables else {}
            self._pending = self._load_pending() if "pending" in tables else set()
        except BaseException:
            self._conn.close()
            raise

    def _tables(self) -> set[str]:
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {name for (name,) in rows}

    def _load_placements(self) -> dict[str, tuple[bytes | None, str | None]]:
        rows = self._conn.execute(
            "SELECT path, content, tmpname FROM placements WHERE sha256 IS NOT NULL"
        )
        return {path: (content, tmpname) for path, content, tmpname in rows}

    def _load_pending(self) -> set[str]:
        return {path for (path,) in self._conn.execute("SELECT path FROM pending")}

    def keys(self, prefix: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT key FROM records WHERE key >= ? AND key < ? ORDER BY key",
            (prefix, prefix + "\U0010ffff"),
        )
        return [key for (key,) in rows]

    def get(self, key: str) -> Any:
        row = self._conn.execute("SELECT value FROM records WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def file_info(self, path: str) -> FileRef | None:
        row = self._conn.execute("SELECT sha256, size FROM files WHERE path=?", (path,)).fetchone()
        return None if row is None else FileRef(path, row[0], row[1])

    def open_blob(self, path: str) -> BinaryIO:
        """The blob's content; FileNotFoundError if it is not (or no longer) on disk."""
        if path in self._pending:
            raise FileNotFoundError(f"{path} has not reached this replica yet")
        placement = self._placements.get(path)
        if placement is not None:
            content, tmpname = placement
            if content is not None:
                return io.BytesIO(content)
            if tmpname:
                try:
                    return open(self.root / ".tmp" / tmpname, "rb")
                except FileNotFoundError:
                    pass  # renamed into place since the snapshot
        return open(self.root / check_relpath(path), "rb")

    def blob_path(self, path: str) -> Path | None:
        """The blob's file in the tree, if it is settled there (for hard links)."""
        if path in self._pending or path in self._placements:
            return None
        return self.root / check_relpath(path)

    def close(self) -> None:
        self._conn.close()
