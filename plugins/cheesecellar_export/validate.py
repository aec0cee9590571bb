"""Check a dump before anything is written: structure, names, types, and every blob."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cheesecellar.errors import BadRequest
from cheesecellar.model import keys
from cheesecellar.model.names import check_name
from cheesecellar.model.names import normalize_name
from cheesecellar.model.releases import FILES
from cheesecellar.storage import StorageError
from cheesecellar.storage import check_relpath
from cheesecellar_export.dump import Dump
from cheesecellar_export.dump import DumpError

FILE_TYPES = frozenset({"releasefile", "doczip", "toxresult"})
SHA256 = re.compile(r"[0-9a-f]{64}")
TOP_KEYS = frozenset(
    {"format", "version", "exported_by", "exported_at", "source", "include_mirrored_files"}
    | {"users", "indexes", "records", "blobs"}
)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise DumpError(message)


def _object(value: Any, where: str) -> dict:
    _require(isinstance(value, dict), f"{where} must be a JSON object")
    return value


def validate(dump: Dump, types) -> None:
    """Raise :class:`DumpError` naming the first problem of ``dump``; collect notes in
    ``dump.warnings``.

    :param types: the :class:`~cheesecellar.model.indextypes.IndexTypeRegistry`.
    """
    document = _object(dump.document, "the document")
    unknown = sorted(set(document) - TOP_KEYS)
    if unknown:
        dump.warnings.append(f"ignored unknown top-level keys: {', '.join(unknown)}")
    blobs = _blobs(document.get("blobs"))
    users = _object(document.get("users", {}), "users")
    for name, record in users.items():
        _user(name, record)
    indexes = _object(document.get("indexes", {}), "indexes")
    seen: set[str] = set()
    owners = {*users, "root"}  # the import creates root if the dump has none
    for name, data in indexes.items():
        _IndexCheck(name, data, owners, indexes, types, blobs, seen).run()
    for key, value in _object(document.get("records", {}), "records").items():
        # "+" starts no record key: stored change logs mark their blob changes with it.
        _require(key != "" and not key.startswith("+"), f"records: bad key {key!r}")
        _require(keys.parse(key) is None, f"records: {key} is not a record of a plugin")
        _require(value is not None, f"records: {key} has no value")
    _sources(dump, blobs)


def _blobs(value: Any) -> dict[str, dict]:
    blobs = _object(value, "blobs")
    for relpath, info in blobs.items():
        try:
            check_relpath(relpath)
        except StorageError as exc:
            raise DumpError(f"blobs: {exc}") from None
        _object(info, f"blob {relpath}")
        sha256, size = info.get("sha256"), info.get("size")
        _require(
            isinstance(sha256, str) and SHA256.fullmatch(sha256), f"blob {relpath}: bad sha256"
        )
        _require(type(size) is int and size >= 0, f"blob {relpath}: bad size {size!r}")
    return blobs


def _checked_name(kind: str, name: Any, where: str) -> None:
    _require(isinstance(name, str), f"{where}: {kind} name {name!r} is not a string")
    try:
        check_name(kind, name)
    except BadRequest as exc:
        raise DumpError(f"{where}: {exc.message}") from None


def _user(name: str, record: Any) -> None:
    _checked_name("user", name, f"user {name!r}")
    _object(record, f"user {name}")
    pwhash = record.get("pwhash")
    _require(pwhash is None or isinstance(pwhash, str), f"user {name}: pwhash is not a string")


def _sources(dump: Dump, blobs: Mapping[str, dict]) -> None:
    """Every blob has a file of the listed size (content is checked as it is stored)."""
    for relpath, info in blobs.items():
        source = dump.sources.get(relpath)
        _require(source is not None, f"blob {relpath}: the dump has no file for it")
        try:
            size = source.stat().st_size
        except FileNotFoundError:
            raise DumpError(f"blob {relpath}: its file {source} is missing") from None
        _require(
            size == info["size"],
            f"blob {relpath}: its file {source} has {size} bytes, the dump lists "
            f"{info['size']} (truncated or changed)",
        )


class _IndexCheck:
    """One index of the document: name, config, projects, versions, files, mirror records."""

    def __init__(self, name, data, users, indexes, types, blobs, seen) -> None:
        self.name = name
        self.data = data
        self.users = users
        self.indexes = indexes
        self.types = types
        self.blobs = blobs
        self.seen = seen
        self.where = f"index {name}"

    def run(self) -> None:
        _require(
            isinstance(self.name, str) and self.name.count("/") == 1,
            f"bad index name {self.name!r}",
        )
        user, index = self.name.split("/")
        _checked_name("user", user, self.where)
        _checked_name("index", index, self.where)
        _require(user in self.users, f"{self.where}: its user {user!r} is not in the dump")
        data = _object(self.data, self.where)
        config = _object(data.get("config"), f"{self.where}: config")
        index_type = self._type(config)
        for base in config.get("bases", []) if not index_type.is_mirror else ():
            _require(base in self.indexes, f"{self.where}: base {base!r} is not in the dump")
        projects = _object(data.get("projects", {}), f"{self.where}: projects")
        for project, entry in projects.items():
            self._project(project, entry)
        if "mirror" in data:
            _require(index_type.is_mirror, f"{self.where}: mirror records on a non-mirror index")
            self._mirror(_object(data["mirror"], f"{self.where}: mirror"))

    def _type(self, config: dict):
        name = config.get("type")
        _require(name in self.types.names(), f"{self.where}: unknown index type {name!r}")
        index_type = self.types.get(name)
        bases = config.get("bases", [])
        ok = isinstance(bases, list) and all(isinstance(base, str) for base in bases)
        _require(ok or index_type.is_mirror, f"{self.where}: bases must be a list of names")
        return index_type

    def _project(self, project: Any, entry: Any) -> None:
        where = f"{self.where}: project {project!r}"
        ok = isinstance(project, str) and project and normalize_name(project) == project
        _require(ok, f"{where}: the name is not normalised")
        entry = _object(entry, where)
        _object(entry.get("record"), f"{where}: record")
        for version, verdata in _object(entry.get("versions", {}), f"{where}: versions").items():
            ok = isinstance(version, str) and version and "/" not in version
            _require(ok, f"{where}: bad version {version!r}")
            self._version(f"{where} version {version}", _object(verdata, f"{where} {version}"))

    def _version(self, where: str, verdata: dict) -> None:
        entries = verdata.get(FILES, [])
        _require(isinstance(entries, list), f"{where}: {FILES} must be a list")
        releases = set()
        for entry in entries:
            self._entry(where, _object(entry, f"{where}: file entry"))
            if entry["type"] == "releasefile":
                releases.add(entry["relpath"])
        for entry in entries:
            if entry["type"] == "toxresult":
                target = entry.get("for_relpath")
                _require(
                    target in releases,
                    f"{where}: tox result {entry['relpath']} is for {target!r}, "
                    "which is no release file of the version",
                )

    def _entry(self, where: str, entry: dict) -> None:
        relpath, filename = entry.get("relpath"), entry.get("filename")
        _require(isinstance(filename, str) and filename, f"{where}: a file entry has no filename")
        _require(isinstance(relpath, str), f"{where}: {filename} has no relpath")
        _require(relpath.startswith(self.name + "/"), f"{where}: {relpath} is outside the index")
        _require(
            entry.get("type") in FILE_TYPES, f"{where}: {relpath} has type {entry.get('type')!r}"
        )
        blob = self.blobs.get(relpath)
        _require(blob is not None, f"{where}: {relpath} is not listed in blobs")
        _require(relpath not in self.seen, f"{where}: {relpath} is listed twice")
        self.seen.add(relpath)
        hashes = entry.get("hashes", {})
        _require(isinstance(hashes, dict), f"{where}: {relpath}: hashes must be an object")
        sha256 = hashes.get("sha256")
        _require(sha256 in (None, blob["sha256"]), f"{where}: {relpath}: sha256 differs from blobs")
        _require(
            entry.get("size", blob["size"]) == blob["size"], f"{where}: {relpath}: size differs"
        )
        if entry.get("core_metadata"):
            metadata = relpath + ".metadata"
            _require(metadata in self.blobs, f"{where}: {metadata} is not listed in blobs")

    def _mirror(self, mirror: dict) -> None:
        records = _object(mirror.get("records", {}), f"{self.where}: mirror records")
        for key, value in records.items():
            parsed = keys.parse(key)
            kind = parsed.kind if parsed else None
            if kind == "mirror":
                ok = "/".join(parsed.parts[:2]) == self.name
            elif kind == "file":
                ok = parsed.parts[0].startswith(self.name + "/")
                _require(parsed.parts[0] in self.blobs, f"{self.where}: {key}: file not in blobs")
            else:
                ok = False
            _require(ok, f"{self.where}: {key} is not a mirror record of this index")
            _object(value, f"{self.where}: {key}")
