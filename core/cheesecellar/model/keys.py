"""Every storage key in one place: one function to build each, one to parse them all."""

from __future__ import annotations

import dataclasses

USER_PREFIX = "user/"
INDEX_PREFIX = "index/"


def user(name: str) -> str:
    """The user record: the user config with its password hash."""
    return f"{USER_PREFIX}{name}"


def index(username: str, indexname: str) -> str:
    """The index record: the index configuration."""
    return f"{INDEX_PREFIX}{username}/{indexname}"


def user_indexes_prefix(username: str) -> str:
    """Prefix of every index record of ``username``."""
    return f"{INDEX_PREFIX}{username}/"


@dataclasses.dataclass(frozen=True)
class ParsedKey:
    kind: str
    parts: tuple[str, ...]


def parse(key: str) -> ParsedKey | None:
    """Tell what a key is: ``user`` (name), ``index`` (user, index), ``project`` (user,
    index, project), ``version`` (user, index, project, version), ``mirror`` (user,
    index, project), ``mirrorlist`` (user, index) or ``file`` (relpath); None if unknown."""
    kind, _, rest = key.partition("/")
    if kind == "file" and rest:
        return ParsedKey("file", (rest,))
    parts = tuple(rest.split("/"))
    if kind == "user" and len(parts) == 1:
        return ParsedKey("user", parts)
    if kind == "index" and len(parts) == 2:
        return ParsedKey("index", parts)
    if kind == "project" and len(parts) == 3:
        return ParsedKey("project", parts)
    if kind == "version" and len(parts) == 4:
        return ParsedKey("version", parts)
    if kind == "mirror" and len(parts) == 3:
        return ParsedKey("mirror", parts)
    if kind == "mirrorlist" and len(parts) == 2:
        return ParsedKey("mirrorlist", parts)
    return None


PROJECT_PREFIX = "project/"
VERSION_PREFIX = "version/"


def project(indexname: str, project_name: str) -> str:
    """A project of an index (normalised name): its display name and its versions."""
    return f"{PROJECT_PREFIX}{indexname}/{project_name}"


def projects_prefix(indexname: str) -> str:
    return f"{PROJECT_PREFIX}{indexname}/"


def version(indexname: str, project_name: str, version_string: str) -> str:
    """One version of a project: its metadata and its files."""
    return f"{VERSION_PREFIX}{indexname}/{project_name}/{version_string}"


def file(relpath: str) -> str:
    """Which version a stored file belongs to: index, project and version."""
    return f"file/{relpath}"


def versions_prefix(indexname: str, project_name: str | None = None) -> str:
    if project_name is None:
        return f"{VERSION_PREFIX}{indexname}/"
    return f"{VERSION_PREFIX}{indexname}/{project_name}/"


def mirror_page(indexname: str, project_name: str) -> str:
    """The cached upstream page of a project of a mirror index."""
    return f"mirror/{indexname}/{project_name}"


def mirror_pages_prefix(indexname: str) -> str:
    return f"mirror/{indexname}/"


def mirror_list(indexname: str) -> str:
    """Where a mirror index keeps its upstream project list (a stored file)."""
    return f"mirrorlist/{indexname}"
