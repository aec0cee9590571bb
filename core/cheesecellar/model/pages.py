"""Simple API page data: the merged links and versions of a project as an index shows them."""

from __future__ import annotations

import dataclasses

from packaging.version import InvalidVersion
from packaging.version import Version

from cheesecellar.model import releases
from cheesecellar.model.resolve import reader_for
from cheesecellar.model.resolve import resolve


@dataclasses.dataclass(frozen=True)
class Link:
    """One file as the simple API shows it; ``path`` is relative to the server root."""

    filename: str
    path: str
    stage: str
    version: str
    hashes: dict[str, str]
    requires_python: str | None = None
    yanked: bool | str = False
    core_metadata: dict[str, str] | None = None
    size: int | None = None
    upload_time: str | None = None
    #: An absolute URL elsewhere (a mirror linking to its upstream), used instead of path.
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class ProjectPage:
    name: str
    versions: list[str]
    links: list[Link]
    blocked_mirrors: list[str]
    #: When a mirror's part of the page must be checked again (time.monotonic()).
    expires_at: float | None = None


def version_key(version: str) -> tuple:
    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, version, version)


def links_from_versions(stage: str, versions: dict[str, dict]) -> list[Link]:
    """Release-file links of a stage's stored versions."""
    links = []
    for version, verdata in versions.items():
        yanked: bool | str = False
        if verdata.get("yanked"):
            yanked = verdata.get("yanked_reason") or True
        for entry in verdata.get(releases.FILES, ()):
            if entry.get("type", "releasefile") != "releasefile":
                continue
            links.append(
                Link(
                    filename=entry["filename"],
                    path=entry["relpath"],
                    stage=stage,
                    version=version,
                    hashes=entry["hashes"],
                    requires_python=verdata.get("requires_python"),
                    yanked=yanked,
                    core_metadata=entry.get("core_metadata"),
                    size=entry.get("size"),
                    upload_time=entry.get("upload_time"),
                    url=entry.get("url"),
                )
            )
    return links


class StageReader:
    """How the resolver reads a stage index: the releases stored in it."""

    def has_project(self, tx, indexname: str, config: dict, project: str) -> bool:
        return releases.get_project(tx, indexname, project) is not None

    def project_names(self, tx, indexname: str, config: dict) -> list[str]:
        from cheesecellar.model.projects import project_names

        return project_names(tx, indexname)

    def versions(self, tx, indexname: str, config: dict, project: str) -> dict[str, dict]:
        return releases.all_versions(tx, indexname, project)

    def links(
        self, tx, indexname: str, config: dict, project: str, versions: dict[str, dict]
    ) -> list[Link]:
        return links_from_versions(indexname, versions)


STAGE_READER = StageReader()


def project_page(tx, types, indexname: str, project: str) -> ProjectPage | None:
    """Merge the project's links over the resolution order; first file name wins."""
    resolution = resolve(tx, types, indexname, project)
    if not resolution.hits:
        return None
    return _merge(tx, types, project, resolution)


def _merge(tx, types, project: str, resolution) -> ProjectPage:
    seen: set[str] = set()
    links: list[Link] = []
    versions: set[str] = set()
    name = project
    for hit in resolution.hits:
        reader = reader_for(types, hit.config)
        stage_versions = reader.versions(tx, hit.name, hit.config, project)
        for verdata in stage_versions.values():
            name = verdata.get("name") or name
            break
        versions.update(stage_versions)
        for link in reader.links(tx, hit.name, hit.config, project, stage_versions):
            if link.filename not in seen:
                seen.add(link.filename)
                links.append(link)
    ordered = sorted(versions, key=version_key)
    return ProjectPage(project, ordered, links, resolution.blocked_mirrors, resolution.expires_at)


@dataclasses.dataclass(frozen=True)
class Absent:
    """No index in the resolution order has the project, until ``expires_at``."""

    expires_at: float | None = None


def lookup_page(tx, types, indexname: str, project: str) -> ProjectPage | Absent:
    """Like :func:`project_page`, but an absence says how long it holds (mirrors
    remember an upstream 404 only for a while)."""
    resolution = resolve(tx, types, indexname, project)
    if not resolution.hits:
        return Absent(resolution.expires_at)
    return _merge(tx, types, project, resolution)
