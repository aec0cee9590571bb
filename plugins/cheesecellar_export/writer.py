"""Write a validated dump into a store: records as they are, every blob checked."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from cheesecellar.model import keys
from cheesecellar.model.releases import FILES
from cheesecellar_export.dump import Dump
from cheesecellar_export.dump import DumpError

#: A write transaction is committed once it holds this many blobs or bytes.
BATCH_BLOBS = 300
BATCH_BYTES = 256 * 1024 * 1024


@dataclasses.dataclass
class Counts:
    """What a dump holds, for summaries."""

    users: int = 0
    indexes: int = 0
    projects: int = 0
    versions: int = 0
    files: int = 0
    bytes: int = 0

    @classmethod
    def of(cls, document: dict) -> Counts:
        indexes = document.get("indexes", {})
        projects = [p for data in indexes.values() for p in data.get("projects", {}).values()]
        blobs = document.get("blobs", {})
        return cls(
            users=len(document.get("users", {})),
            indexes=len(indexes),
            projects=len(projects),
            versions=sum(len(p.get("versions", {})) for p in projects),
            files=len(blobs),
            bytes=sum(info["size"] for info in blobs.values()),
        )


def write_dump(storage, dump: Dump, progress: Callable[[int], None] | None = None) -> None:
    """Write every record and blob of ``dump`` (validated) into the empty ``storage``.

    Records are written as the dump has them; each blob's sha256 and size are compared
    with the dump's list as it is stored. Blobs are committed in batches.
    """
    document = dump.document
    with storage.transaction(write=True) as tx:
        for name, record in document.get("users", {}).items():
            tx.set(keys.user(name), record)
        for name, data in document.get("indexes", {}).items():
            tx.set(keys.index(*name.split("/")), data["config"])
        for key, value in document.get("records", {}).items():
            tx.set(key, value)
    with _Batches(storage, dump, progress) as batches:
        for name, data in document.get("indexes", {}).items():
            for project, entry in data.get("projects", {}).items():
                batches.run(_write_project, name, project, entry)
            for key, value in data.get("mirror", {}).get("records", {}).items():
                batches.run(_write_mirror_record, key, value)
        for relpath in document.get("blobs", {}):
            if relpath not in batches.stored:  # blobs of plugins' records
                batches.run(_store_blob, relpath)


def _write_project(batches: _Batches, tx, indexname: str, project: str, entry: dict) -> None:
    tx.set(keys.project(indexname, project), entry["record"])
    for version, verdata in entry.get("versions", {}).items():
        tx.set(keys.version(indexname, project, version), verdata)
        where = {"index": indexname, "project": project, "version": version}
        for file_entry in verdata.get(FILES, ()):
            relpath = file_entry["relpath"]
            batches.store(tx, relpath)
            if file_entry.get("core_metadata"):
                batches.store(tx, relpath + ".metadata")
            tx.set(keys.file(relpath), where)


def _store_blob(batches: _Batches, tx, relpath: str) -> None:
    batches.store(tx, relpath)


def _write_mirror_record(batches: _Batches, tx, key: str, value: dict) -> None:
    tx.set(key, value)
    parsed = keys.parse(key)
    if parsed.kind == "file":
        relpath = parsed.parts[0]
        batches.store(tx, relpath)
        if relpath + ".metadata" in batches.blobs:
            batches.store(tx, relpath + ".metadata")


class _Batches:
    """Runs writes in write transactions that are committed every so many blobs."""

    def __init__(self, storage, dump: Dump, progress) -> None:
        self.storage = storage
        self.blobs = dump.document.get("blobs", {})
        self.sources = dump.sources
        self.progress = progress
        self.stored: set[str] = set()
        self._context = None
        self._tx = None
        self._blobs = self._bytes = 0

    def __enter__(self) -> _Batches:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._context is not None:
            context, self._context, self._tx = self._context, None, None
            context.__exit__(*exc_info)
            if exc_info[0] is None and self.progress:
                self.progress(len(self.stored))

    def run(self, write: Callable[..., None], *args) -> None:
        """Call ``write(self, tx, *args)`` in the current transaction."""
        if self._context is None:
            self._context = self.storage.transaction(write=True)
            self._tx = self._context.__enter__()
        write(self, self._tx, *args)
        if self._blobs >= BATCH_BLOBS or self._bytes >= BATCH_BYTES:
            self._blobs = self._bytes = 0
            self.__exit__(None, None, None)

    def store(self, tx, relpath: str) -> None:
        """Store one blob from its source file; its content must be what the dump lists."""
        if relpath in self.stored:
            return
        info, source = self.blobs[relpath], self.sources[relpath]
        try:
            with open(source, "rb") as fp:
                ref = tx.store_file(relpath, fp)
        except FileNotFoundError:
            raise DumpError(f"blob {relpath}: its file {source} is missing") from None
        if (ref.sha256, ref.size) != (info["sha256"], info["size"]):
            raise DumpError(
                f"blob {relpath}: {source} has sha256 {ref.sha256} ({ref.size} bytes), "
                f"the dump lists {info['sha256']} ({info['size']} bytes)"
            )
        self.stored.add(relpath)
        self._blobs += 1
        self._bytes += ref.size
