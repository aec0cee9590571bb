"""One consistent view of a server for the exporter, from whatever stores its data."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import BinaryIO

from cheesecellar.dirlock import DirectoryLock
from cheesecellar.storage import FileRef
from cheesecellar.storage import open_storage
from cheesecellar.storage import storage_backend


class StorageSnapshot:
    """An IReadSnapshot over an open IStorage: one read transaction.

    ``open_blob`` reads the committed content, which the exporter checks against the
    snapshot's sha256; these stores give no file to link to.
    """

    def __init__(self, storage) -> None:
        self._storage = storage
        self._context = storage.transaction()
        self._tx = self._context.__enter__()
        self.serial = self._tx.at_serial

    def keys(self, prefix: str) -> list[str]:
        return self._tx.keys(prefix)

    def get(self, key: str) -> Any:
        return self._tx.get(key)

    def file_info(self, path: str) -> FileRef | None:
        return self._tx.file_info(path)

    def open_blob(self, path: str) -> BinaryIO:
        return self._storage.open_file(path)

    def blob_path(self, path: str) -> Path | None:
        return None

    def close(self) -> None:
        self._context.__exit__(None, None, None)


@contextlib.contextmanager
def open_snapshot(pm, serverdir: Path, backend: tuple[str, dict]) -> Iterator:
    """An IReadSnapshot of ``serverdir``, closed on exit.

    A backend that offers a read-only snapshot (the fs store does) is read in place, also
    while a server runs on it. Any other backend is opened like the server opens it, which
    needs the server stopped: the directory lock is held meanwhile, so a server cannot
    start in the middle.
    """
    name, options = backend
    opener = storage_backend(pm, name).snapshot
    if opener is not None:
        snapshot = opener(serverdir, options)
        try:
            yield snapshot
        finally:
            snapshot.close()
        return
    lock = DirectoryLock(serverdir).acquire()
    try:
        storage = open_storage(pm, serverdir, backend)
        try:
            snapshot = StorageSnapshot(storage)
            try:
                yield snapshot
            finally:
                snapshot.close()
        finally:
            storage.close()
    finally:
        lock.release()
