"""What a mirror index holds locally: cached project pages and files, a page at a time."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from typing import Any

from cheesecellar.errors import BadRequest
from cheesecellar.errors import NotFound
from cheesecellar.model import keys
from cheesecellar.model.releases import file_relpath

PER_PAGE = 100
#: Above this many cached files, the total size is not added up (it would read them all).
SUM_LIMIT = 20_000
_HEX = re.compile(r"[0-9a-fA-F]{16,128}")


@dataclasses.dataclass(frozen=True)
class CachedFile:
    filename: str
    size: int
    relpath: str


@dataclasses.dataclass(frozen=True)
class CachedProject:
    """A project whose upstream page is cached; ``fetched`` is a UNIX time or None."""

    name: str
    fetched: float | None
    files_listed: int
    files: tuple[CachedFile, ...]

    @property
    def bytes(self) -> int:
        return sum(file.size for file in self.files)

    @property
    def fetched_at(self) -> str:
        """When the page was last fetched, as UTC text (empty when not recorded)."""
        if self.fetched is None:
            return ""
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.fetched))


@dataclasses.dataclass(frozen=True)
class CachedOverview:
    indexname: str
    page: int
    pages: int
    projects_total: int
    files_total: int
    bytes_total: int | None
    projects: tuple[CachedProject, ...]

    def as_json(self, url_for) -> dict[str, Any]:
        return {
            "index": self.indexname,
            "page": self.page,
            "pages": self.pages,
            "per_page": PER_PAGE,
            "projects_total": self.projects_total,
            "files_total": self.files_total,
            "bytes_total": self.bytes_total,
            "projects": [
                {
                    "name": project.name,
                    "fetched": project.fetched,
                    "files_listed": project.files_listed,
                    "files_cached": len(project.files),
                    "bytes_cached": project.bytes,
                    "files": [
                        {"filename": f.filename, "size": f.size, "href": url_for(f.relpath)}
                        for f in project.files
                    ],
                }
                for project in self.projects
            ],
        }


def page_number(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    try:
        number = int(raw)
    except ValueError:
        raise BadRequest(f"page must be a number, not {raw!r}") from None
    if number < 1:
        raise BadRequest("page must be 1 or more")
    return number


def cached_overview(tx, indexname: str, page: int) -> CachedOverview:
    """One page of the cached projects (sorted by name) with the index's totals.

    Only the keys of the cache are listed for all projects; records are read for the
    projects on the page alone.
    """
    prefix = keys.mirror_pages_prefix(indexname)
    names = [key[len(prefix) :] for key in tx.keys(prefix)]
    pages = max(1, -(-len(names) // PER_PAGE))
    if page > pages:
        raise NotFound(f"page {page} of the cache of {indexname} does not exist; it has {pages}")
    shown = names[(page - 1) * PER_PAGE : page * PER_PAGE]
    files_total, bytes_total = cached_totals(tx, indexname)
    projects = tuple(cached_project(tx, indexname, name) for name in shown)
    return CachedOverview(indexname, page, pages, len(names), files_total, bytes_total, projects)


def cached_totals(tx, indexname: str) -> tuple[int, int | None]:
    """How many files the mirror keeps, and their size (None when there are too many to
    add up quickly)."""
    prefix = keys.file(f"{indexname}/+f/")
    found = tx.keys(prefix)
    if len(found) > SUM_LIMIT:
        return len(found), None
    total = 0
    for key in found:
        info = tx.file_info(key[len("file/") :])
        total += info.size if info is not None else 0
    return len(found), total


def cached_project(tx, indexname: str, name: str) -> CachedProject:
    record = tx.get(keys.mirror_page(indexname, name)) or {}
    page = record.get("page") if isinstance(record.get("page"), dict) else {}
    listed = [f for f in page.get("files") or () if isinstance(f, dict)]
    files = []
    for upfile in listed:
        relpath = upstream_relpath(indexname, upfile)
        info = tx.file_info(relpath) if relpath is not None else None
        if info is not None:
            files.append(CachedFile(upfile["filename"], info.size, relpath))
    fetched = record.get("fetched")
    fetched = fetched if isinstance(fetched, (int, float)) else None
    return CachedProject(str(page.get("name") or name), fetched, len(listed), tuple(files))


def upstream_relpath(indexname: str, upfile: dict) -> str | None:
    """Where the mirror keeps a file of a cached page: named after its sha256 (or the
    first hash upstream gives, or its URL's digest when it gives none)."""
    filename = upfile.get("filename")
    if not isinstance(filename, str) or not filename or "/" in filename:
        return None
    found = upfile.get("hashes") if isinstance(upfile.get("hashes"), dict) else {}
    hashes = {k: v for k, v in found.items() if isinstance(v, str) and _HEX.fullmatch(v)}
    digest = hashes.get("sha256") or next(iter(hashes.values()), None)
    if digest is None:
        digest = hashlib.sha256(str(upfile.get("url", "")).encode()).hexdigest()
    return file_relpath(indexname, digest.lower(), filename)
