"""What a distribution file is: its kind, name and version, and its metadata as upload fields."""

from __future__ import annotations

import dataclasses
import re
import tarfile
import zipfile
from pathlib import Path

from packaging.metadata import parse_email
from packaging.utils import InvalidSdistFilename
from packaging.utils import InvalidWheelFilename
from packaging.utils import parse_sdist_filename
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion

from cheesecellar_client.http import ClientError

#: ``name-version.doc.zip``, the name devpi gives documentation zips.
DOCZIP = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+)\.docs?\.zip$")
SDIST_SUFFIXES = (".tar.gz", ".zip")
#: Largest METADATA/PKG-INFO read from an archive.
MAX_METADATA_BYTES = 8 * 1024 * 1024
#: Core metadata keys (as packaging names them) sent as one form field each.
SINGLE_FIELDS = (
    "metadata_version", "name", "version", "summary", "description",
    "description_content_type", "author", "author_email", "maintainer", "maintainer_email",
    "license", "license_expression", "home_page", "download_url", "requires_python",
)  # fmt: skip
#: Core metadata keys sent as repeated form fields, and the field name of each.
MULTI_FIELDS = {
    "classifiers": "classifiers",
    "platforms": "platform",
    "supported_platforms": "supported_platform",
    "requires_dist": "requires_dist",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_external": "requires_external",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
    "license_files": "license_file",
    "requires": "requires",
    "provides": "provides",
    "obsoletes": "obsoletes",
}


@dataclasses.dataclass(frozen=True)
class DistFile:
    """A file to upload: a wheel, an sdist or a documentation zip."""

    path: Path
    kind: str  # "wheel", "sdist" or "doczip"
    name: str
    version: str

    @property
    def filetype(self) -> str:
        return {"wheel": "bdist_wheel", "sdist": "sdist"}.get(self.kind, "doczip")

    @property
    def pyversion(self) -> str:
        """The wheel's Python tag (``py3``), or ``source`` for an sdist."""
        if self.kind == "wheel":
            return self.path.name[: -len(".whl")].split("-")[-3]
        return "source"


def inspect(path: Path) -> DistFile:
    """Recognise ``path`` by its name.

    :raises ClientError: it is not a wheel, sdist or ``NAME-VERSION.doc.zip``.
    """
    filename = path.name
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            return DistFile(path, "wheel", name, str(version))
        doczip = DOCZIP.match(filename)
        if doczip:
            return DistFile(path, "doczip", doczip["name"], doczip["version"])
        if filename.endswith(SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
            return DistFile(path, "sdist", name, str(version))
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise ClientError(f"{filename}: not a distribution file name ({exc})") from None
    raise ClientError(
        f"{filename}: not a distribution file"
        " (expected .whl, .tar.gz, .zip or NAME-VERSION.doc.zip)"
    )


def read_metadata(dist: DistFile) -> dict:
    """The core metadata inside a wheel or sdist, with packaging's key names.

    :raises ClientError: the archive cannot be read or has no metadata.
    """
    try:
        raw = _raw_metadata(dist)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise ClientError(f"{dist.path}: cannot read the archive ({exc})") from None
    if raw is None:
        member = "*.dist-info/METADATA" if dist.kind == "wheel" else "PKG-INFO"
        raise ClientError(f"{dist.path}: the archive has no {member}")
    fields, _unparsed = parse_email(raw)
    return dict(fields)


def _raw_metadata(dist: DistFile) -> bytes | None:
    if dist.kind == "wheel" or dist.path.name.endswith(".zip"):
        with zipfile.ZipFile(dist.path) as archive:
            for info in archive.infolist():
                if _is_metadata(info.filename, dist.kind) and info.file_size <= MAX_METADATA_BYTES:
                    return archive.read(info)
        return None
    with tarfile.open(dist.path, mode="r:*") as archive:
        for member in archive:
            wanted = member.isfile() and _is_metadata(member.name, dist.kind)
            if wanted and member.size <= MAX_METADATA_BYTES:
                return archive.extractfile(member).read()
    return None


def _is_metadata(member: str, kind: str) -> bool:
    parts = member.split("/")
    if len(parts) != 2:
        return False
    if kind == "wheel":
        return parts[0].endswith(".dist-info") and parts[1] == "METADATA"
    return parts[1] == "PKG-INFO"


def metadata_fields(metadata: dict) -> list[tuple[str, str]]:
    """Core metadata as the form fields of the legacy upload protocol (repeated ones repeat)."""
    fields = [(key, str(metadata[key])) for key in SINGLE_FIELDS if metadata.get(key)]
    if metadata.get("keywords"):
        fields.append(("keywords", ", ".join(metadata["keywords"])))
    for key, field in MULTI_FIELDS.items():
        fields.extend((field, str(value)) for value in metadata.get(key) or ())
    for label, url in (metadata.get("project_urls") or {}).items():
        fields.append(("project_urls", f"{label}, {url}"))
    return fields
