"""Build a ``cellar-export.json`` document from a snapshot of a server."""

from __future__ import annotations

import dataclasses
import time

from cheesecellar import __version__
from cheesecellar.model import keys
from cheesecellar.model.releases import FILES
from cheesecellar.storage import FileRef
from cheesecellar_export.dump import FORMAT_NAME
from cheesecellar_export.dump import FORMAT_VERSION

#: Kinds of records the document's structure holds; anything else goes to "records".
STRUCTURED_KINDS = frozenset({"user", "index", "project", "version", "file", "mirror"})
#: Kinds that are left out: derived from the structure, or a cache.
SKIPPED_KINDS = frozenset({"mirrorlist"})


class ExportError(Exception):
    """The server's data cannot be exported as it is; the message names the problem."""


@dataclasses.dataclass
class Built:
    """A document and the blobs it lists (relpath -> the snapshot's FileRef)."""

    document: dict
    blobs: dict[str, FileRef]
    warnings: list[str]


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def build_document(snapshot, types, source: dict, include_mirrored: bool) -> Built:
    """Read every record of ``snapshot`` into a document (format version 1).

    :param types: the index types, to tell mirror indexes from the others.
    :param source: ``uuid`` and ``role`` of the exported server.
    :param include_mirrored: export the cached pages and files of mirror indexes.
    """
    builder = _Builder(snapshot, types, include_mirrored)
    builder.read()
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exported_by": f"cheesecellar {__version__}",
        "exported_at": utc_now(),
        "source": {**source, "serial": snapshot.serial},
        "include_mirrored_files": include_mirrored,
        "users": builder.users,
        "indexes": builder.indexes,
        "records": builder.records,
        "blobs": {path: {"sha256": ref.sha256, "size": ref.size} for path, ref in builder.blobs},
    }
    return Built(document, dict(builder.blobs), builder.warnings)


class _Builder:
    def __init__(self, snapshot, types, include_mirrored: bool) -> None:
        self.snapshot = snapshot
        self.types = types
        self.include_mirrored = include_mirrored
        self.users: dict[str, dict] = {}
        self.indexes: dict[str, dict] = {}
        self.mirrors: set[str] = set()
        self.records: dict[str, object] = {}
        self.blobs: list[tuple[str, FileRef]] = []
        self._listed: set[str] = set()
        self.warnings: list[str] = []

    def read(self) -> None:
        by_kind: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for key in self.snapshot.keys(""):
            parsed = keys.parse(key)
            if parsed is None:
                self.records[key] = self.snapshot.get(key)
            elif parsed.kind not in SKIPPED_KINDS:
                by_kind.setdefault(parsed.kind, []).append((key, parsed.parts))
        for key, (name,) in by_kind.get("user", ()):
            self.users[name] = self.snapshot.get(key)
        for key, parts in by_kind.get("index", ()):
            self._add_index("/".join(parts), self.snapshot.get(key))
        for key, parts in by_kind.get("project", ()):
            self._add_project(key, parts)
        for key, parts in by_kind.get("version", ()):
            self._add_version(key, parts)
        for key, parts in by_kind.get("mirror", ()):
            self._add_mirror_record(key, "/".join(parts[:2]))
        for key, (relpath,) in by_kind.get("file", ()):
            self._add_file_record(key, relpath)

    def _add_index(self, name: str, config: dict) -> None:
        entry: dict = {"config": config, "projects": {}}
        index_type = config.get("type") if isinstance(config, dict) else None
        if index_type in self.types.names() and self.types.get(index_type).is_mirror:
            self.mirrors.add(name)
            if self.include_mirrored:
                entry["mirror"] = {"records": {}}
        self.indexes[name] = entry

    def _index_of(self, key: str, indexname: str) -> dict | None:
        found = self.indexes.get(indexname)
        if found is None:
            self.warnings.append(f"skipped {key}: its index {indexname} does not exist")
        return found

    def _add_project(self, key: str, parts: tuple[str, ...]) -> None:
        index = self._index_of(key, "/".join(parts[:2]))
        if index is not None:
            project = index["projects"].setdefault(parts[2], {"versions": {}})
            project["record"] = self.snapshot.get(key)

    def _add_version(self, key: str, parts: tuple[str, ...]) -> None:
        indexname, project, version = "/".join(parts[:2]), parts[2], parts[3]
        index = self._index_of(key, indexname)
        if index is None:
            return
        if project not in index["projects"]:
            self.warnings.append(f"skipped {key}: its project record is missing")
            return
        verdata = self.snapshot.get(key)
        for entry in verdata.get(FILES, ()):
            self._list_blob(entry["relpath"], key)
            if entry.get("core_metadata"):
                self._list_blob(entry["relpath"] + ".metadata", key)
        index["projects"][project]["versions"][version] = verdata

    def _list_blob(self, relpath: str, owner: str, required: bool = True) -> bool:
        if relpath in self._listed:
            return True
        ref = self.snapshot.file_info(relpath)
        if ref is None:
            if required:
                raise ExportError(f"{owner} lists the file {relpath}, which the server lacks")
            return False
        self._listed.add(relpath)
        self.blobs.append((relpath, ref))
        return True

    def _add_mirror_record(self, key: str, indexname: str) -> None:
        if indexname not in self.mirrors:
            self.warnings.append(f"skipped {key}: {indexname} is not a mirror index")
        elif self.include_mirrored:
            self.indexes[indexname]["mirror"]["records"][key] = self.snapshot.get(key)

    def _add_file_record(self, key: str, relpath: str) -> None:
        indexname = "/".join(relpath.split("/")[:2])
        if indexname not in self.mirrors:
            return  # a private file's record is derived from its version's entries
        if not self.include_mirrored:
            return
        if not self._list_blob(relpath, key, required=False):
            self.warnings.append(f"skipped {key}: the cached file is gone")
            return
        self._list_blob(relpath + ".metadata", key, required=False)
        self.indexes[indexname]["mirror"]["records"][key] = self.snapshot.get(key)
