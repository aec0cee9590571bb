"""Default storage: SQLite in WAL mode for records and changelog, files on disk for blobs."""

from __future__ import annotations

from cheesecellar import hookimpl
from cheesecellar.storage import StorageBackend


@hookimpl
def cellar_register_storage(registry):
    from cheesecellar_fs.readonly import ReadOnlySnapshot
    from cheesecellar_fs.store import FsStorage

    registry.add(
        StorageBackend(
            name="fs",
            factory=FsStorage,
            description="SQLite (WAL) for metadata and changelog, content-addressed files",
            snapshot=lambda basedir, options: ReadOnlySnapshot(basedir),
        )
    )
