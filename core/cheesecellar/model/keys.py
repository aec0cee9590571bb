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
    """Tell what a key is: ``user`` (name) or ``index`` (user, index); None if unknown."""
    kind, _, rest = key.partition("/")
    parts = tuple(rest.split("/"))
    if kind == "user" and len(parts) == 1:
        return ParsedKey("user", parts)
    if kind == "index" and len(parts) == 2:
        return ParsedKey("index", parts)
    return None


def project(indexname: str, project_name: str) -> str:
    """A project of an index: its versions and their metadata (normalised name)."""
    return f"project/{indexname}/{project_name}"


def projects_prefix(indexname: str) -> str:
    return f"project/{indexname}/"
