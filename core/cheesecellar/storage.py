"""Storage plumbing shared by backends: records of change, blobs, staging, registry."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import secrets
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from pathlib import PurePosixPath
from typing import Any
from typing import BinaryIO

CHUNK = 64 * 1024


class StorageError(Exception):
    """The store refused an operation; the message says why."""


class BlobPending(FileNotFoundError):
    """A replica knows the blob from the changelog but has not got its content yet, and
    no fetcher could bring it (see ``IStorage.follow_primary``)."""


@dataclasses.dataclass(frozen=True)
class Change:
    """One key changed by a commit: its new value (None = deleted) and previous serial."""

    key: str
    value: Any
    back_serial: int


@dataclasses.dataclass(frozen=True)
class FileChange:
    """One blob changed by a commit: its new sha256 and size, or both None if removed."""

    path: str
    sha256: str | None
    size: int | None


@dataclasses.dataclass(frozen=True)
class ChangelogEntry:
    """One commit: its records' changes and, apart from them, its blobs' changes."""

    serial: int
    timestamp: float
    changes: list[Change]
    files: list[FileChange] = dataclasses.field(default_factory=list)


#: Stored changelogs keep blob changes among the records' changes under keys with this
#: prefix (no record key starts with "+"); :func:`split_stored_changes` takes them apart.
BLOB_KEY_PREFIX = "+blob/"


def stored_changes(changes: list[Change], files: list[FileChange]) -> list[list]:
    """The changes of one commit as stored: ``[key, value, back_serial]`` triples, the
    blobs' as ``["+blob/{path}", {"sha256", "size"} or None, -1]``."""
    rows = [[c.key, c.value, c.back_serial] for c in changes]
    for change in files:
        value = None if change.sha256 is None else {"sha256": change.sha256, "size": change.size}
        rows.append([BLOB_KEY_PREFIX + change.path, value, -1])
    return rows


def split_stored_changes(rows: list[list]) -> tuple[list[Change], list[FileChange]]:
    """Read what :func:`stored_changes` wrote back into record and blob changes."""
    changes, files = [], []
    for key, value, back_serial in rows:
        if key.startswith(BLOB_KEY_PREFIX):
            path = key[len(BLOB_KEY_PREFIX) :]
            if value is None:
                files.append(FileChange(path, None, None))
            else:
                files.append(FileChange(path, value["sha256"], value["size"]))
        else:
            changes.append(Change(key, value, back_serial))
    return changes, files


def file_changes(staged) -> list[FileChange]:
    """The blob changes of a transaction's ``staged_files()``."""
    return [
        FileChange(path, None, None) if ref is None else FileChange(path, ref.sha256, ref.size)
        for path, ref, _blob in staged
    ]


@dataclasses.dataclass(frozen=True)
class FileRef:
    """A stored blob: its relative path, sha256 hex digest and size in bytes."""

    path: str
    sha256: str
    size: int


@dataclasses.dataclass(frozen=True)
class StorageBackend:
    """A named storage backend; ``factory(basedir, options)`` returns an IStorage.

    ``snapshot(basedir, options)``, if the backend has it, returns an IReadSnapshot: one
    consistent, read-only view that is safe to take while a server runs on ``basedir``
    (``cellar export`` uses it for backups without downtime).
    """

    name: str
    factory: Callable[[Path, Mapping[str, str]], Any]
    description: str = ""
    snapshot: Callable[[Path, Mapping[str, str]], Any] | None = None


class StorageRegistry:
    """Backends registered through ``cellar_register_storage``."""

    def __init__(self) -> None:
        self._backends: dict[str, StorageBackend] = {}

    def add(self, backend: StorageBackend) -> None:
        if backend.name in self._backends:
            raise StorageError(f"storage backend {backend.name!r} registered twice")
        self._backends[backend.name] = backend

    def get(self, name: str) -> StorageBackend:
        try:
            return self._backends[name]
        except KeyError:
            known = ", ".join(sorted(self._backends)) or "none"
            raise StorageError(f"unknown storage backend {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._backends)


def storage_backend(pm, name: str) -> StorageBackend:
    """The backend registered as ``name``."""
    registry = StorageRegistry()
    pm.hook.cellar_register_storage(registry=registry)
    return registry.get(name)


def open_storage(pm, basedir: Path, spec: tuple[str, Mapping[str, str]]):
    """Open the backend named in ``spec`` (``(name, options)``) under ``basedir``."""
    name, options = spec
    return storage_backend(pm, name).factory(Path(basedir), options)


def check_relpath(path: str) -> str:
    """Return ``path`` if it is a clean relative path that cannot leave its root."""
    pure = PurePosixPath(path)
    if (
        not path
        or pure.is_absolute()
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise StorageError(f"invalid file path {path!r}")
    return path


@dataclasses.dataclass
class TempBlob:
    """Staged content, hashed: in a temp file (``tmppath``) or, when small, in memory
    (``data``, and ``tmppath`` is None)."""

    tmppath: Path | None
    sha256: str
    size: int
    data: bytes | None = None


def _new_blob_file(tmpdir: Path) -> tuple[int, str]:
    """Create a temp file with the umask's permissions (mkstemp's are always 0600), so that
    a web server given read access sends placed blobs from disk (``cellar gen-config``)."""
    while True:
        name = os.path.join(tmpdir, f"blob-{secrets.token_hex(8)}")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), name
        except FileExistsError:
            continue


def stage_blob(fp: BinaryIO, tmpdir: Path, inline_max: int) -> TempBlob:
    """Hash ``fp``'s content; keep it in memory if it has at most ``inline_max`` bytes, else
    copy it to a new temp file in ``tmpdir``, unsynced (the caller syncs it before the
    file counts as stored)."""
    head = fp.read(inline_max + 1)
    digest = hashlib.sha256(head)
    if len(head) <= inline_max:
        return TempBlob(None, digest.hexdigest(), len(head), bytes(head))
    size = len(head)
    fd, name = _new_blob_file(tmpdir)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(head)
            while chunk := fp.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except BaseException:
        os.unlink(name)
        raise
    return TempBlob(Path(name), digest.hexdigest(), size)


def stage_content(content: bytes | BinaryIO, tmpdir: Path, inline_max: int) -> TempBlob:
    """:func:`stage_blob` for a file or for bytes (hashed in place when small enough)."""
    if not isinstance(content, bytes | bytearray | memoryview):
        return stage_blob(content, tmpdir, inline_max)
    if len(content) > inline_max:
        return stage_blob(io.BytesIO(content), tmpdir, inline_max)
    data = bytes(content)
    return TempBlob(None, hashlib.sha256(data).hexdigest(), len(data), data)


def content_mismatch(path: str, blob, ref: FileRef) -> StorageError | None:
    """The error for replicated content of ``path`` that is not what ``ref`` names."""
    if (blob.sha256, blob.size) == (ref.sha256, ref.size):
        return None
    return StorageError(
        f"content of {path} does not match: sha256 {blob.sha256} "
        f"({blob.size} bytes), expected {ref.sha256} ({ref.size} bytes)"
    )


_DELETED = object()


class StagedTransaction:
    """Read-your-writes staging on top of a backend's snapshot reads.

    Backends implement ``_read(key)``, ``_scan(prefix)``, ``_file_row(path)`` and
    ``_stage_blob(fp)``; the writer's changes stay in memory until the backend commits
    them with :meth:`staged_changes`.
    """

    def __init__(self, at_serial: int, write: bool) -> None:
        self.at_serial = at_serial
        self.write = write
        self._staged: dict[str, Any] = {}
        self._files: dict[str, Any] = {}
        self._callbacks: list[Callable[[int], None]] = []

    # reads
    def get(self, key: str) -> Any:
        if key in self._staged:
            value = self._staged[key]
            return None if value is _DELETED else value
        return self._read(key)

    def keys(self, prefix: str) -> list[str]:
        found = set(self._scan(prefix))
        for key, value in self._staged.items():
            if key.startswith(prefix):
                (found.discard if value is _DELETED else found.add)(key)
        return sorted(found)

    def file_info(self, path: str) -> FileRef | None:
        if path in self._files:
            staged = self._files[path]
            return None if staged is _DELETED else staged[0]
        return self._file_row(path)

    # writes
    def _check_write(self) -> None:
        if not self.write:
            raise StorageError("read-only transaction")

    def set(self, key: str, value: Any) -> None:
        self._check_write()
        if value is None:
            raise StorageError("use delete() to remove a key")
        self._staged[key] = value

    def delete(self, key: str) -> None:
        self._check_write()
        self._staged[key] = _DELETED

    def store_file(self, path: str | Callable[[str], str], fp: BinaryIO) -> FileRef:
        self._check_write()
        blob = self._stage_blob(fp)
        try:
            relpath = check_relpath(path(blob.sha256) if callable(path) else path)
        except BaseException:
            _discard(blob)  # not staged yet, so rollback won't see it
            raise
        ref = FileRef(relpath, blob.sha256, blob.size)
        self._discard_staged_blob(relpath)
        self._files[relpath] = (ref, blob)
        return ref

    def delete_file(self, path: str) -> None:
        self._check_write()
        self._discard_staged_blob(check_relpath(path))
        self._files[path] = _DELETED

    def on_commit(self, callback: Callable[[int], None]) -> None:
        self._callbacks.append(callback)

    # for backends
    def staged_changes(self) -> Iterator[tuple[str, Any]]:
        for key, value in self._staged.items():
            yield key, None if value is _DELETED else value

    def staged_files(self) -> Iterator[tuple[str, FileRef | None, TempBlob | None]]:
        for path, staged in self._files.items():
            if staged is _DELETED:
                yield path, None, None
            else:
                yield path, staged[0], staged[1]

    def has_changes(self) -> bool:
        return bool(self._staged or self._files)

    def run_callbacks(self, serial: int) -> None:
        for callback in self._callbacks:
            callback(serial)

    def discard_blobs(self) -> None:
        for _path, _ref, blob in self.staged_files():
            if blob is not None:
                _discard(blob)
        self._files.clear()

    def _discard_staged_blob(self, path: str) -> None:
        staged = self._files.pop(path, None)
        if staged not in (None, _DELETED):
            _discard(staged[1])

    # backend hooks
    def _read(self, key: str) -> Any:
        raise NotImplementedError

    def _scan(self, prefix: str) -> list[str]:
        raise NotImplementedError

    def _file_row(self, path: str) -> FileRef | None:
        raise NotImplementedError

    def _stage_blob(self, fp: BinaryIO) -> TempBlob:
        raise NotImplementedError


def _discard(blob) -> None:
    """Remove a staged blob's temp file; an in-memory blob has none."""
    tmppath = getattr(blob, "tmppath", None)
    if tmppath is not None:
        tmppath.unlink(missing_ok=True)
