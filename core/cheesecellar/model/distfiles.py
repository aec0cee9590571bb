"""Distribution files: what a file name says, and the core metadata inside the file."""

from __future__ import annotations

import dataclasses
import lzma
import re
import tarfile
import zipfile
import zlib
from typing import IO
from typing import Any

from packaging.metadata import parse_email
from packaging.utils import InvalidSdistFilename
from packaging.utils import InvalidWheelFilename
from packaging.utils import parse_sdist_filename
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion
from packaging.version import Version

from cheesecellar.errors import BadRequest
from cheesecellar.model.names import normalize_name

#: Largest METADATA/PKG-INFO read from an archive (a guard against archive bombs).
MAX_METADATA_BYTES = 8 * 1024 * 1024
_DOCZIP = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+)\.doc\.zip$")
# What names, PEP 440 versions and wheel tags use; nothing that needs quoting in a URL.
_FILE_CHARS = re.compile(r"[A-Za-z0-9._+!-]+")
# zlib and lzma report damaged compressed data with their own exception types.
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
)


@dataclasses.dataclass(frozen=True)
class DistName:
    """A parsed distribution file name."""

    filename: str
    project: str  # normalised
    version: str
    kind: str  # "wheel", "sdist" or "doczip"


def check_filename(filename: str) -> str:
    """Refuse names that could leave their directory, hide as dot files or break a URL."""
    if not _FILE_CHARS.fullmatch(filename) or filename.startswith("."):
        raise BadRequest(f"invalid file name {filename!r}")
    if len(filename) > 255:
        raise BadRequest("file name is longer than 255 characters")
    return filename


def parse_filename(filename: str) -> DistName:
    """Parse a wheel, sdist or doc zip name; 400 with the reason if it does not parse."""
    check_filename(filename)
    if filename.endswith(".whl"):
        try:
            name, version, _build, _tags = parse_wheel_filename(filename)
        except (InvalidWheelFilename, InvalidVersion) as exc:
            raise BadRequest(f"invalid wheel file name {filename!r}: {exc}") from None
        return DistName(filename, normalize_name(name), str(version), "wheel")
    match = _DOCZIP.match(filename)
    if match:
        return DistName(filename, normalize_name(match["name"]), match["version"], "doczip")
    try:
        name, version = parse_sdist_filename(filename)
    except (InvalidSdistFilename, InvalidVersion) as exc:
        raise BadRequest(f"invalid file name {filename!r}: {exc}") from None
    return DistName(filename, normalize_name(name), str(version), "sdist")


def check_version(version: str) -> str:
    """A PEP 440 version, kept exactly as given (devpi does not normalise versions)."""
    try:
        Version(version)
    except InvalidVersion:
        raise BadRequest(f"invalid version {version!r}: not a PEP 440 version") from None
    return version


def same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def read_core_metadata(dist: DistName, fp: IO[bytes]) -> bytes | None:
    """The raw METADATA of a wheel or PKG-INFO of an sdist, or None if there is none."""
    if dist.kind == "doczip":
        return None
    try:
        if dist.kind == "wheel" or dist.filename.endswith(".zip"):
            return _from_zip(dist, fp)
        return _from_tar(dist, fp)
    except _ARCHIVE_ERRORS as exc:
        raise BadRequest(f"{dist.filename}: not a readable archive ({exc})") from None


def _is_metadata(name: str, dist: DistName) -> bool:
    parts = name.split("/")
    if dist.kind == "wheel":
        return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA"
    return len(parts) == 2 and parts[1] == "PKG-INFO"


def _from_zip(dist: DistName, fp: IO[bytes]) -> bytes | None:
    with zipfile.ZipFile(fp) as archive:
        for info in archive.infolist():
            if _is_metadata(info.filename, dist):
                if info.file_size > MAX_METADATA_BYTES:
                    raise BadRequest(f"{dist.filename}: metadata is too large")
                return archive.read(info)
    return None


def _from_tar(dist: DistName, fp: IO[bytes]) -> bytes | None:
    with tarfile.open(fileobj=fp, mode="r:*") as archive:
        for member in archive:
            if member.isfile() and _is_metadata(member.name, dist):
                if member.size > MAX_METADATA_BYTES:
                    raise BadRequest(f"{dist.filename}: metadata is too large")
                return archive.extractfile(member).read()
    return None


def parse_metadata(raw: bytes) -> dict[str, Any]:
    """Core metadata fields as a dict with underscored names (``requires_python``)."""
    fields, _unparsed = parse_email(raw)
    return {key: value for key, value in fields.items() if key != "description" or value}
