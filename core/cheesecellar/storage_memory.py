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
from cheesecellar.storage import BlobPending
from cheesecellar.storage import Change
from cheesecellar.storage import ChangelogEntry
from cheesecellar.storage import FileRef
from cheesecellar.storage import StagedTransaction
from cheesecellar.storage import StorageBackend
from cheesecellar.storage import StorageError
from cheesecellar.storage import check_relpath
from cheesecellar.storage import content_mismatch
from cheesecellar.storage import file_changes


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
    #: A replica's blob whose content has not arrived has None as its bytes.
    files: Mapping[str, tuple[FileRef, bytes | None]] = dataclasses.field(default_factory=dict)


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
        self._fetch = None

    @contextlib.contextmanager
    def transaction(self, write: bool = False) -> Iterator[MemoryTransaction]:
        if self._closed:
            raise StorageError("storage is closed")
        if not write:
            yield MemoryTransaction(self._snapshot, write=False)
            return
        if self._fetch is not None:
            raise StorageError("this store follows a primary: it takes no writes of its own")
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
        entry = ChangelogEntry(serial, time.time(), changes, file_changes(staged_files))
        self._publish(Snapshot(serial, records, files), [entry])
        return serial

    def _publish(self, snapshot: Snapshot, entries: list[ChangelogEntry]) -> None:
        self._changelog.extend(entries)
        with self._committed:
            self._snapshot = snapshot
            self._committed.notify_all()

    # --- replication ----------------------------------------------------------------

    def follow_primary(self, fetch) -> None:
        self._fetch = fetch

    def import_changes(self, entries: list[ChangelogEntry]) -> None:
        with self._write_lock:
            old = self._snapshot
            records, files = dict(old.records), dict(old.files)
            for expected, entry in enumerate(entries, old.serial + 1):
                if entry.serial != expected:
                    raise StorageError(f"expected serial {expected}, got {entry.serial}")
                _import_entry(records, files, entry)
            if entries:
                self._publish(Snapshot(entries[-1].serial, records, files), list(entries))

    def store_replicated_blob(self, path: str, fp: BinaryIO) -> bool:
        (result,) = self.store_replicated_blobs([(path, fp)])
        if isinstance(result, StorageError):
            raise result
        return result

    def store_replicated_blobs(self, items) -> list:
        blobs = [(path, _content_blob(content)) for path, content in items]
        with self._write_lock:
            old = self._snapshot
            files = dict(old.files)
            results = [_settle(files, path, blob) for path, blob in blobs]
            # Not a commit: the serial stays, only the content arrives.
            self._snapshot = dataclasses.replace(old, files=files)
        return results

    def pending_files(self) -> list[FileRef]:
        return [ref for ref, data in self._snapshot.files.values() if data is None]

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
        if row[1] is None and self._fetch is not None:
            self._fetch(row[0])
            row = self._snapshot.files.get(path) or row
        if row[1] is None:
            raise BlobPending(path)
        return io.BytesIO(row[1])

    def get_meta(self, name: str) -> Any:
        value = self._meta.get(name)
        return None if value is None else json.loads(value)

    def set_meta(self, name: str, value: Any) -> None:
        self._meta[name] = _dumps(value)

    def close(self) -> None:
        with self._write_lock:
            self._closed = True


def _import_entry(records: dict, files: dict, entry: ChangelogEntry) -> None:
    """Apply one of a primary's changelog entries to new snapshot dictionaries."""
    for change in entry.changes:
        if change.value is None:
            records.pop(change.key, None)
        else:
            records[change.key] = (_dumps(change.value), entry.serial)
    for change in entry.files:
        known = files.pop(change.path, None)
        if change.sha256 is None:
            continue
        ref = FileRef(change.path, change.sha256, change.size)
        same = known is not None and known[0] == ref and known[1] is not None
        files[change.path] = (ref, known[1] if same else None)


def _content_blob(content) -> MemoryBlob:
    if isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
        return MemoryBlob(data, hashlib.sha256(data).hexdigest(), len(data))
    return read_blob(content)


def _settle(files: dict, path: str, blob: MemoryBlob):
    """Give the pending blob at ``path`` its content in ``files``: True, False if it is
    not pending, or the StorageError for content that does not match."""
    row = files.get(path)
    if row is None or row[1] is not None:
        return False
    problem = content_mismatch(path, blob, row[0])
    if problem is not None:
        return problem
    files[path] = (row[0], blob.data)
    return True


@hookimpl
def cellar_register_storage(registry):
    registry.add(
        StorageBackend(
            name="memory",
            factory=MemoryStorage,
            description="in memory, for tests; keeps nothing across restarts",
        )
    )
