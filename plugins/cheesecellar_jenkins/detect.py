"""Which releases a commit uploaded: new release files, grouped by index, project, version."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from cheesecellar.model import keys
from cheesecellar.model import releases

#: Only release files trigger: not doc zips, and not tox results (a test run that
#: uploads its result must not trigger the next test run).
TRIGGERING_TYPES = frozenset({"releasefile"})


@dataclasses.dataclass(frozen=True)
class ReleaseFile:
    filename: str
    relpath: str
    sha256: str
    size: int
    type: str

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Upload:
    """New release files of one version of one index, committed as ``serial``."""

    index: str
    project: str  # the name as uploaded, e.g. "Hello_World"
    version: str
    serial: int
    timestamp: float
    files: tuple[ReleaseFile, ...]

    def as_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["files"] = [f.as_json() for f in self.files]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Upload:
        files = tuple(ReleaseFile(**f) for f in data["files"])
        return cls(**{**data, "files": files})


def stored_files(changes: Iterable) -> dict[tuple[str, str, str], list[str]]:
    """``{(index, project, version): [relpath, ...]}`` of the private files a commit stored."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for change in changes:
        parsed = keys.parse(change.key)
        if parsed is None or parsed.kind != "file" or not isinstance(change.value, dict):
            continue
        where = change.value
        if where.get("mirror") or not all(k in where for k in ("index", "project", "version")):
            continue
        place = (where["index"], where["project"], where["version"])
        found.setdefault(place, []).append(parsed.parts[0])
    return found


def uploads_in_commit(serial: int, timestamp: float, changes: list, tx) -> list[Upload]:
    """The uploads of one commit; version data comes from the commit itself, or from
    ``tx`` if the commit did not change it."""
    versions = {change.key: change.value for change in changes}
    uploads = []
    for (index, project, version), relpaths in stored_files(changes).items():
        key = keys.version(index, project, version)
        verdata = versions[key] if key in versions else tx.get(key)
        if not isinstance(verdata, dict):
            continue
        entries = {e.get("relpath"): e for e in verdata.get(releases.FILES, ())}
        files = tuple(
            _release_file(entries[relpath])
            for relpath in relpaths
            if relpath in entries and entries[relpath].get("type") in TRIGGERING_TYPES
        )
        if files:
            name = verdata.get("name") or project
            uploads.append(Upload(index, name, version, serial, timestamp, files))
    return uploads


def _release_file(entry: dict) -> ReleaseFile:
    return ReleaseFile(
        filename=entry.get("filename") or entry["relpath"].rsplit("/", 1)[-1],
        relpath=entry["relpath"],
        sha256=(entry.get("hashes") or {}).get("sha256", ""),
        size=entry.get("size", 0),
        type=entry["type"],
    )
