"""The files of a devpi export: each one checked against the hashes devpi recorded, and
collected as the blobs of the dump."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from cheesecellar.errors import BadRequest
from cheesecellar.model.distfiles import DistName
from cheesecellar.model.distfiles import read_core_metadata
from cheesecellar.storage import StorageError
from cheesecellar.storage import check_relpath
from cheesecellar_export.blobcopy import file_digests
from cheesecellar_export.dump import DumpError

DEVPI_DOCUMENT = "dataindex.json"
#: Hash names devpi may record whose digests can be checked here (shake needs a length).
CHECKABLE = frozenset(n for n in hashlib.algorithms_guaranteed if not n.startswith("shake"))
#: Where generated PEP 658 metadata files are written in the work directory.
METADATA_DIR = "core-metadata"
_HEX = re.compile(r"[0-9a-fA-F]{16,128}")
#: Unlisted files named in a warning; the rest are counted.
SHOWN_UNLISTED = 5


@dataclasses.dataclass(frozen=True)
class CheckedFile:
    """A file of the export whose content matched every hash devpi recorded for it."""

    relpath: str
    source: Path
    sha256: str
    size: int
    #: the hashes devpi recorded that were checked (lower-case), and the sha256
    hashes: dict[str, str]


def fold_hashes(entrymapping: Any) -> dict[str, str]:
    """The hashes of a file entry: ``hashes``, with devpi 2.1's ``md5`` key and the
    ``hash_spec`` (``name=hexdigest``) folded in."""
    if not isinstance(entrymapping, dict):
        return {}
    recorded = entrymapping.get("hashes")
    hashes = dict(recorded) if isinstance(recorded, dict) else {}
    if entrymapping.get("md5"):
        hashes.setdefault("md5", entrymapping["md5"])
    name, _, value = str(entrymapping.get("hash_spec") or "").partition("=")
    if name and value:
        hashes.setdefault(name, value)
    return {
        str(name): value.lower()
        for name, value in hashes.items()
        if isinstance(value, str) and _HEX.fullmatch(value)
    }


def drop_release_hash(relpath: str, hashes: dict[str, str]) -> dict[str, str]:
    """devpi 6.5 to 6.8 recorded a tox result with the hash of its release file (the
    ``name=hexdigest`` directory of its path); such hashes say nothing and are dropped."""
    parts = relpath.split("/")
    if len(parts) != 5:
        return hashes
    name, _, value = parts[3].partition("=")
    if value and hashes.get(name) == value.lower():
        return {}
    return hashes


class ExportFiles:
    """Reads and checks the files of an export directory; collects the dump's blobs."""

    def __init__(self, exportdir: Path, workdir: Path) -> None:
        self.exportdir = exportdir
        self.workdir = workdir
        self.blobs: dict[str, dict] = {}
        self.sources: dict[str, Path] = {}
        self.used: set[str] = set()

    def check(self, relpath: Any, hashes: dict[str, str]) -> CheckedFile:
        """Hash the file at ``relpath`` (relative to the export) and compare every
        recorded hash; a missing or different file is a :class:`DumpError`."""
        if not isinstance(relpath, str):
            raise DumpError(f"{DEVPI_DOCUMENT}: a file has no relpath ({relpath!r})")
        try:
            check_relpath(relpath)
        except StorageError:
            raise DumpError(f"{DEVPI_DOCUMENT}: file path {relpath!r} leaves the export") from None
        source = self.exportdir / relpath
        if not source.is_file():
            raise DumpError(f"{relpath}: the file is missing from the export")
        names = {"sha256", *(name for name in hashes if name in CHECKABLE)}
        digests, size = file_digests(source, names)
        for name in sorted(names & set(hashes)):
            if digests[name] != hashes[name]:
                raise DumpError(
                    f"{relpath}: {name} is {digests[name]}, {DEVPI_DOCUMENT} says "
                    f"{hashes[name]} (the file was changed or damaged)"
                )
        self.used.add(relpath)
        checked = {name: digests[name] for name in names}
        return CheckedFile(relpath, source, digests["sha256"], size, checked)

    def add_blob(self, relpath: str, source: Path, sha256: str, size: int) -> None:
        self.blobs[relpath] = {"sha256": sha256, "size": size}
        self.sources[relpath] = source

    def drop_blob(self, relpath: str) -> None:
        self.blobs.pop(relpath, None)
        self.sources.pop(relpath, None)

    def add_file(self, relpath: str, checked: CheckedFile) -> None:
        """List ``checked`` as the blob at ``relpath``."""
        self.add_blob(relpath, checked.source, checked.sha256, checked.size)

    def add_core_metadata(
        self, relpath: str, checked: CheckedFile, dist: DistName, warnings: list[str]
    ) -> dict | None:
        """Extract a wheel's METADATA as the PEP 658 file ``relpath.metadata``; return
        the entry's ``core_metadata`` (None, with a warning, if the wheel has none)."""
        try:
            with open(checked.source, "rb") as fp:
                raw = read_core_metadata(dist, fp)
        except BadRequest as exc:
            raw, reason = None, exc.message
        else:
            reason = "it has no .dist-info/METADATA"
        if raw is None:
            warnings.append(f"{checked.relpath}: no PEP 658 metadata file: {reason}")
            return None
        sha256 = hashlib.sha256(raw).hexdigest()
        target = self.workdir / METADATA_DIR / f"{sha256}.metadata"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        self.add_blob(relpath + ".metadata", target, sha256, len(raw))
        return {"sha256": sha256}

    def unlisted(self) -> list[str]:
        """Files in the export that ``dataindex.json`` does not list (devpi ignores them)."""
        found = []
        for dirpath, _dirnames, filenames in os.walk(self.exportdir):
            base = Path(dirpath).relative_to(self.exportdir)
            for name in filenames:
                relpath = (base / name).as_posix()
                if relpath != DEVPI_DOCUMENT and relpath not in self.used:
                    found.append(relpath)
        return sorted(found)

    def unlisted_warning(self) -> str | None:
        found = self.unlisted()
        if not found:
            return None
        shown = ", ".join(found[:SHOWN_UNLISTED])
        more = f" and {len(found) - SHOWN_UNLISTED} more" if len(found) > SHOWN_UNLISTED else ""
        return f"not imported: {len(found)} files {DEVPI_DOCUMENT} does not list: {shown}{more}"
