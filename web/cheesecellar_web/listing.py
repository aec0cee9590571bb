"""What the root, user and index pages show: users, their indexes, an index's projects."""

from __future__ import annotations

import dataclasses
from typing import Any

from packaging.version import InvalidVersion
from packaging.version import Version

from cheesecellar.interfaces import IIndexTypes
from cheesecellar.model import projects
from cheesecellar.model import releases
from cheesecellar.model import users
from cheesecellar.views import present_index

PAGE_SIZE = 50
SPECIAL_PRINCIPALS = (":ANONYMOUS:", ":AUTHENTICATED:")


def version_key(version: str) -> tuple:
    """Sort key: PEP 440 order; strings that are not versions sort first, by text."""
    try:
        return (1, Version(version), "")
    except InvalidVersion:
        return (0, Version("0"), version)


def newest(versions, *, stable: bool = False) -> str | None:
    """The newest version, or the newest that is no pre- or dev-release."""
    candidates = [v for v in versions if not stable or is_final(v)]
    return max(candidates, key=version_key, default=None)


def is_final(version: str) -> bool:
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return not (parsed.is_prerelease or parsed.is_devrelease)


def index_summary(request, username: str, name: str, config: dict) -> dict[str, Any]:
    """An index as lists show it; secrets in it are masked as the API masks them."""
    shown = present_index(request, username, config)
    return {
        "name": f"{username}/{name}",
        "type": shown.get("type", ""),
        "title": shown.get("title") or "",
        "description": shown.get("description") or "",
        "bases": list(shown.get("bases") or ()),
        "config": shown,
    }


def user_summary(request, username: str) -> dict[str, Any]:
    record = users.get_user(request.tx, username) or {}
    found = users.user_indexes(request.tx, username)
    return {
        "name": username,
        "title": record.get("title") or "",
        "description": record.get("description") or "",
        "indexes": [
            index_summary(request, username, name, config)
            for name, config in sorted(found.items())
            if config is not None
        ],
    }


def all_users(request) -> list[dict[str, Any]]:
    return [user_summary(request, name) for name in users.list_usernames(request.tx)]


def is_mirror(request, config: dict) -> bool:
    types = request.registry.getUtility(IIndexTypes)
    return types.get(config["type"]).is_mirror


@dataclasses.dataclass(frozen=True)
class Acl:
    """An ACL split the way people read it."""

    users: list[str]
    groups: list[str]
    special: list[str]


def split_acl(entries) -> Acl:
    """Users, groups (``:team``) and the special principals, each sorted."""
    found = Acl([], [], [])
    for entry in sorted(set(entries or ())):
        if entry.upper() in SPECIAL_PRINCIPALS:
            found.special.append(entry.upper())
        elif entry.startswith(":"):
            found.groups.append(entry)
        else:
            found.users.append(entry)
    return found


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of a long list."""

    items: list
    number: int
    count: int
    total: int


def page_number(request) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**9 else 1


def paged(names: list[str], number: int, size: int = PAGE_SIZE) -> Page:
    count = max(1, -(-len(names) // size))
    number = min(number, count)
    start = (number - 1) * size
    return Page(names[start : start + size], number, count, len(names))


def index_projects(request, indexname: str, number: int) -> Page:
    """A page of the index's own projects, each with its newest version's record; only
    the projects on the page are read beyond their names."""
    page = paged(projects.project_names(request.tx, indexname), number)
    rows = [_project_row(request.tx, indexname, name) for name in page.items]
    return dataclasses.replace(page, items=rows)


def _project_row(tx, indexname: str, project: str) -> dict[str, Any]:
    version = newest(releases.version_strings(tx, indexname, project))
    verdata = releases.get_version(tx, indexname, project, version) if version else None
    verdata = verdata or {}
    record = releases.get_project(tx, indexname, project) or {}
    return {
        "project": project,
        "name": verdata.get("name") or record.get("name") or project,
        "version": version,
        "summary": verdata.get("summary") or "",
    }
