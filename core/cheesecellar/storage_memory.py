"""In-memory IStorage for tests: snapshot reads, one writer, a changelog; nothing persists."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import BinaryIO

from zope.interface import implementer

from cheesecellar import hookimpl
from cheesecellar.interfaces import IStorage
from cheesecellar.interfaces import ITransaction
from cheesecellar.storage import CHUNK
from cheesecellar.storage import Change
from cheesecellar.storage import ChangelogEntry
from cheesecellar.storage import FileRef
from cheesecellar.storage import StagedTransaction
from cheesecellar.storage import StorageBackend
from cheesecellar.storage import StorageError
from cheesecellar.storage import check_relpath


class _NoTempFile:
    """Stands in for a temp file path: an in-memory blob has nothing on disk to remove."""

    def unlink(self, missing_ok: bool = False) -> None:
        pass


_NO_TEMP_FILE = _NoTempFile()


@dataclasses.dataclass(frozen=True)
class MemoryBlob:
    """Staged file content, hashed like a temp blob of a disk-backed store."""

    data: bytes
    sha256: str
    size: int

    @property
    def tmppath(self) -> _NoTempFile:
        return _NO_TEMP_FILE


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Everything committed up to ``serial``; a commit builds a new one, never edits one."""

    serial: int = -1
    records: Mapping[str, tuple[str, int]] = dataclasses.field(default_factory=dict)
    files: Mapping[str, tuple[FileRef, bytes]] = dataclasses.field(default_factory=dict)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def read_blob(fp: BinaryIO) -> MemoryBlob:
    digest = hashlib.sha256()
    chunks = []
    while chunk := fp.read(CHUNK):
        digest.update(chunk)
        chunks.append(chunk)
    data = b"".join(chunks)
    return MemoryBlob(data, digest.hexdigest(), len(data))


@implementer(ITransaction)
class MemoryTransaction(StagedTransaction):
    def __init__(self, snapshot: Snapshot, write: bool) -> None:
        self._snapshot = snapshot
        super().__init__(snapshot.serial, write)

    def _read(self, key: str) -> Any:
        row = self._snapshot.records.get(key)
        return None if row is None else json.loads(row[0])

    def _scan(self, prefix: str) -> list[str]:
        return [key for key in self._snapshot.records if key.startswith(prefix)]

    def _file_row(self, path: str) -> FileRef | None:
        row = self._snapshot.files.get(path)
        return None if row is None else row[0]

    def _stage_blob(self, fp: BinaryIO) -> MemoryBlob:
        return read_blob(fp)


@implementer(IStorage)
class MemoryStorage:
    """Keeps records, changelog, blobs and metadata in dictionaries of this process."""

    def __init__(self, basedir: Path | None = None, options: Mapping[str, str] | None = None):
        if options:
            raise StorageError(f"storage 'memory' takes no options, got {', '.join(options)}")
        self._snapshot = Snapshot()
        self._changelog: list[ChangelogEntry] = []
        self._meta: dict[str, str] = {}
        self._write_lock = threading.Lock()
        self._committed = threading.Condition()
        self._closed = False

    @contextlib.contextmanager
    def transaction(self, write: bool = False) -> Iterator[MemoryTransaction]:
        if self._closed:
            raise StorageError("storage is closed")
        if not write:
            yield MemoryTransaction(self._snapshot, write=False)
            return
        with self._write_lock:
            tx = MemoryTransaction(self._snapshot, write=True)
            yield tx
            serial = self._commit(tx) if tx.has_changes() else None
            if serial is not None:
                tx.run_callbacks(serial)

    def _commit(self, tx: MemoryTransaction) -> int | None:
        """Publish the staged changes as the next serial; None if they change nothing."""
        old = self._snapshot
        serial = old.serial + 1
        records = dict(old.records)
        changes = []
        for key, value in tx.staged_changes():
            previous = records.get(key)
            back_serial = -1 if previous is None else previous[1]
            if value is None:
                if records.pop(key, None) is not None:
                    changes.append(Change(key, None, back_serial))
                continue
            dumped = _dumps(value)
            if previous is not None and previous[0] == dumped:
                continue
            records[key] = (dumped, serial)
            changes.append(Change(key, json.loads(dumped), back_serial))
        staged_files = list(tx.staged_files())
        if not changes and not staged_files:
            return None
        files = dict(old.files)
        for path, ref, blob in staged_files:
            files.pop(path, None)
            if ref is not None:
                files[path] = (ref, blob.data)
        self._changelog.append(ChangelogEntry(serial, time.time(), changes))
        with self._committed:
            self._snapshot = Snapshot(serial, records, files)
            self._committed.notify_all()
        return serial

    def last_serial(self) -> int:
        return self._snapshot.serial

    def last_commit_timestamp(self) -> float | None:
        return self._changelog[-1].timestamp if self._changelog else None

    def changelog(self, serial: int) -> ChangelogEntry | None:
        if 0 <= serial < len(self._changelog):
            return self._changelog[serial]
        return None

    def wait_for_commit(self, serial: int, timeout: float) -> int:
        with self._committed:
            self._committed.wait_for(lambda: self._snapshot.serial >= serial, timeout)
            return self._snapshot.serial

    def open_file(self, path: str) -> BinaryIO:
        row = self._snapshot.files.get(check_relpath(path))
        if row is None:
            raise FileNotFoundError(path)
        return io.BytesIO(row[1])

    def get_meta(self, name: str) -> Any:
        value = self._meta.get(name)
        return None if value is None else json.loads(value)

    def set_meta(self, name: str, value: Any) -> None:
        self._meta[name] = _dumps(value)

    def close(self) -> None:
        with self._write_lock:
            self._closed = True


@hookimpl
def cellar_register_storage(registry):
    registry.add(
        StorageBackend(
            name="memory",
            factory=MemoryStorage,
            description="in memory, for tests; keeps nothing across restarts",
        )
    )
