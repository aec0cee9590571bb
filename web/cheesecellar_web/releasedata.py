"""What the project and version pages show: versions over the resolution order, files."""

from __future__ import annotations

import dataclasses
from typing import Any

from cheesecellar.errors import NotFound
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.model import indexes
from cheesecellar.model import releases
from cheesecellar.model.names import normalize_name
from cheesecellar.model.resolve import reader_for
from cheesecellar.model.resolve import resolve
from cheesecellar_web.listing import newest
from cheesecellar_web.listing import version_key

#: Version names the pages accept in place of a version.
ALIASES = ("latest", "stable")


@dataclasses.dataclass
class ProjectReleases:
    """A project as an index shows it: each version with the stage it comes from."""

    name: str
    project: str
    versions: dict[str, dict]  # newest first
    stage_of: dict[str, str]
    mirrors: list[str]

    @property
    def from_mirror(self) -> bool:
        return bool(self.mirrors)


def project_releases(request, username: str, indexname: str, project_segment: str):
    """Versions of the project over the resolution order (the first stage with a
    version wins, as in the JSON); a 404 when no stage has the project."""
    indexes.require_index(request.tx, username, indexname)
    project = normalize_name(project_segment)
    types = request.registry.getUtility(IIndexTypes)
    name = f"{username}/{indexname}"
    found: dict[str, dict] = {}
    stage_of: dict[str, str] = {}
    mirrors: list[str] = []
    for hit in resolve(request.tx, types, name, project).hits:
        if hit.is_mirror:
            mirrors.append(hit.name)
        reader = reader_for(types, hit.config)
        for version, verdata in reader.versions(request.tx, hit.name, hit.config, project).items():
            if version not in found:
                found[version], stage_of[version] = verdata, hit.name
    if not found and not stage_of and not mirrors:
        raise NotFound(f"no project {project!r} on {name}")
    ordered = dict(sorted(found.items(), key=lambda item: version_key(item[0]), reverse=True))
    display = next((v.get("name") for v in ordered.values() if v.get("name")), project)
    return ProjectReleases(display, project, ordered, stage_of, mirrors)


def pick_version(found: ProjectReleases, asked: str) -> str:
    """The version a URL names; ``latest`` and ``stable`` (newest final release)."""
    if asked in ALIASES:
        chosen = newest(found.versions, stable=asked == "stable")
        if chosen is None:
            raise NotFound(f"project {found.project!r} has no {asked} version")
        return chosen
    if asked not in found.versions:
        raise NotFound(f"The version {asked} of project {found.project} does not exist.")
    return asked


def version_rows(found: ProjectReleases) -> list[dict[str, Any]]:
    """One row per version for the project page."""
    return [
        {
            "version": version,
            "stage": found.stage_of[version],
            "summary": verdata.get("summary") or "",
            "yanked": bool(verdata.get("yanked")),
            "files": sum(1 for e in verdata.get(releases.FILES, ()) if _kind(e) == "releasefile"),
        }
        for version, verdata in found.versions.items()
    ]


def _kind(entry: dict) -> str:
    return entry.get("type") or "releasefile"


def file_url(request, entry: dict) -> str:
    return entry.get("url") or f"{request.application_url}/{entry['relpath']}"


def release_files(request, verdata: dict) -> list[dict[str, Any]]:
    """The release files of a version, for the files table."""
    version_yanked = bool(verdata.get("yanked"))
    rows = []
    for entry in verdata.get(releases.FILES, ()):
        if _kind(entry) != "releasefile":
            continue
        rows.append(
            {
                "filename": entry["filename"],
                "relpath": entry["relpath"],
                "url": file_url(request, entry),
                "type": file_type(entry["filename"]),
                "size": entry.get("size"),
                "sha256": (entry.get("hashes") or {}).get("sha256", ""),
                "upload_time": entry.get("upload_time") or "",
                "uploader": uploader(entry),
                "yanked": version_yanked or bool(entry.get("yanked")),
            }
        )
    return sorted(rows, key=lambda row: row["filename"])


def file_type(filename: str) -> str:
    lower = filename.lower()
    if lower.endswith(".whl"):
        return "wheel"
    if lower.endswith((".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz")):
        return "sdist"
    if lower.endswith(".egg"):
        return "egg"
    return "file"


def uploader(entry: dict) -> str:
    """Who uploaded the file, from its history; the latest upload or overwrite counts."""
    for item in reversed(entry.get("log") or ()):
        if item.get("what") in ("upload", "overwrite") and item.get("who"):
            return str(item["who"])
    return ""


def toxresult_entries(verdata: dict) -> list[dict]:
    return [e for e in verdata.get(releases.FILES, ()) if _kind(e) == "toxresult"]


def has_doczip(verdata: dict) -> bool:
    return any(_kind(e) == "doczip" for e in verdata.get(releases.FILES, ()))
