"""How the resolver reads a mirror index: upstream pages as versions and links."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from packaging.utils import InvalidWheelFilename
from packaging.utils import parse_wheel_filename

from cheesecellar.errors import BadRequest
from cheesecellar.model import keys
from cheesecellar.model.distfiles import check_filename
from cheesecellar.model.names import normalize_name
from cheesecellar.model.pages import Link
from cheesecellar.model.releases import FILES
from cheesecellar.model.releases import file_relpath

_HEX = re.compile(r"[0-9a-fA-F]{16,128}")
_EXTENSIONS = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz", ".zip", ".tar", ".egg", ".exe")
_EXTENSIONS += (".msi", ".rpm", ".dmg", ".whl")


class MirrorReader:
    """Reads what a mirror index holds through its :class:`MirrorService`."""

    def __init__(self, service) -> None:
        self.service = service

    def has_project(self, tx, indexname: str, config: dict, project: str) -> bool:
        return self.service.page(tx, indexname, config, project) is not None

    def expires_at(self, indexname: str, project: str) -> float | None:
        return self.service.expires_at(indexname, project)

    def project_names(self, tx, indexname: str, config: dict) -> Iterable[str]:
        return self.service.names.names(tx, indexname, config)

    def versions(self, tx, indexname: str, config: dict, project: str) -> dict[str, dict]:
        page = self.service.page(tx, indexname, config, project)
        if page is None:
            return {}
        entries = [file_entry(indexname, config, upfile) for upfile in page.files]
        entries = [entry for entry in entries if entry is not None]
        if self.service.offline:  # only what can be served without upstream
            entries = [entry for entry in entries if tx.file_info(entry["relpath"])]
        _add_cached_metadata(tx, entries)
        return group_versions(page.name, project, entries, page.versions or ())

    def links(
        self, tx, indexname: str, config: dict, project: str, versions: dict[str, dict]
    ) -> list[Link]:
        return [
            _link(indexname, version, entry)
            for version, verdata in versions.items()
            for entry in verdata[FILES]
        ]


def file_entry(indexname: str, config: dict, upfile) -> dict | None:
    """A file of an upstream page as a release file entry; None for a name that could
    not be served safely."""
    try:
        check_filename(upfile.filename)
    except BadRequest:
        return None
    hashes = {name: value for name, value in upfile.hashes.items() if _HEX.fullmatch(value)}
    digest = hashes.get("sha256") or next(iter(hashes.values()), None)
    if digest is None:  # no hash to name its directory: name it after the URL
        digest = hashlib.sha256(upfile.url.encode()).hexdigest()
    entry = {
        "filename": upfile.filename,
        "relpath": file_relpath(indexname, digest.lower(), upfile.filename),
        "type": "releasefile",
        "hashes": hashes,
        "size": upfile.size,
        "upload_time": upfile.upload_time,
        "requires_python": upfile.requires_python,
        "yanked": upfile.yanked,
        "upstream_url": upfile.url,
    }
    if isinstance(upfile.core_metadata, dict) and upfile.core_metadata:
        entry["core_metadata"] = dict(upfile.core_metadata)
    if config.get("mirror_use_external_urls"):
        entry["url"] = upfile.url
    return entry


def _add_cached_metadata(tx, entries: list[dict]) -> None:
    """Wheels whose upstream gives no PEP 658 file get the one computed when the wheel
    was cached."""
    for entry in entries:
        if "core_metadata" in entry or not entry["filename"].endswith(".whl"):
            continue
        record = tx.get(keys.file(entry["relpath"]))
        if record and record.get("core_metadata"):
            entry["core_metadata"] = record["core_metadata"]


def group_versions(name: str, project: str, entries: list[dict], listed) -> dict[str, dict]:
    """Entries grouped by the version their file name gives, plus versions upstream
    lists without files (PEP 700)."""
    versions: dict[str, dict] = {}
    for version in listed:
        versions[version] = {"name": name, "version": version, FILES: []}
    for entry in entries:
        version = guess_version(project, entry["filename"])
        verdata = versions.setdefault(version, {"name": name, "version": version, FILES: []})
        verdata[FILES].append(entry)
    return versions


def guess_version(project: str, filename: str) -> str:
    """The version in a distribution file name, for any of the formats PyPI has held."""
    if filename.endswith(".whl"):
        try:
            return str(parse_wheel_filename(filename)[1])
        except (InvalidWheelFilename, ValueError):
            pass
    stem = filename
    for extension in _EXTENSIONS:
        if stem.lower().endswith(extension):
            stem = stem[: -len(extension)]
            break
    for index, char in enumerate(stem):
        if char == "-" and normalize_name(stem[:index]) == project:
            return stem[index + 1 :].split("-py", 1)[0]
    return stem.rpartition("-")[2] or stem


def _link(indexname: str, version: str, entry: dict) -> Link:
    return Link(
        filename=entry["filename"],
        path=entry["relpath"],
        stage=indexname,
        version=version,
        hashes=entry["hashes"],
        requires_python=entry.get("requires_python"),
        yanked=entry.get("yanked") or False,
        core_metadata=entry.get("core_metadata"),
        size=entry.get("size"),
        upload_time=entry.get("upload_time"),
        url=entry.get("url"),
    )
