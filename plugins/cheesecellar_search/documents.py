"""What is indexed for one project of a private index: its newest metadata and doc pages."""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterator
from typing import Any

from packaging.version import InvalidVersion
from packaging.version import Version

from cheesecellar.doczips import DocZipError
from cheesecellar.doczips import doc_members
from cheesecellar.doczips import read_member
from cheesecellar.errors import BadRequest
from cheesecellar.model import keys
from cheesecellar.model import releases
from cheesecellar.model.names import normalize_name
from cheesecellar_search.htmltext import PAGE_SUFFIXES
from cheesecellar_search.htmltext import page_text
from cheesecellar_search.schema import owner_key
from cheesecellar_search.schema import page_key
from cheesecellar_search.schema import project_key

log = logging.getLogger(__name__)

#: Largest doc page read; bigger members are left out of the index.
MAX_PAGE_BYTES = 4 * 1024 * 1024
#: Pages indexed per doc zip.
MAX_PAGES = 2_000
#: Characters of a description that are indexed.
MAX_DESCRIPTION = 200_000


def is_private(types, config: dict | None) -> bool:
    """Whether an index holds uploaded projects (a stage), not a mirror's."""
    if config is None:
        return False
    try:
        return not types.get(config.get("type")).is_mirror
    except BadRequest:  # a type whose plugin is gone
        return False


def version_order(version: str) -> tuple:
    try:
        return (1, Version(version), "")
    except InvalidVersion:
        return (0, Version("0"), version)


def newest(versions: dict[str, dict]) -> tuple[str, dict] | None:
    """The newest version that is not yanked (the newest of all if every one is)."""
    if not versions:
        return None
    live = {v: d for v, d in versions.items() if not d.get("yanked")} or versions
    best = max(live, key=version_order)
    return best, live[best]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return " ".join(item for item in value if isinstance(item, str))
    return ""


def project_document(indexname: str, project: str, version: str, verdata: dict) -> dict:
    user = indexname.split("/")[0]
    display = verdata.get("name") or project
    return {
        "key": project_key(indexname, project),
        "kind": "project",
        "owner": owner_key(indexname, project),
        "index": indexname,
        "user": user,
        "project": project,
        "version": version,
        "display": display,
        "name": f"{display} {project}",
        "name_exact": normalize_name(display),
        "summary": _text(verdata.get("summary")),
        "keywords": _text(verdata.get("keywords")),
        "description": _text(verdata.get("description"))[:MAX_DESCRIPTION],
        "classifiers": _text(verdata.get("classifiers")),
        "author": " ".join(
            _text(verdata.get(key)) for key in ("author", "maintainer", "author_email")
        ),
    }


def doczip_entry(versions: dict[str, dict]) -> tuple[str, dict, dict] | None:
    """``(version, verdata, entry)`` of the newest version with documentation."""
    for version in sorted(versions, key=version_order, reverse=True):
        verdata = versions[version]
        for entry in verdata.get(releases.FILES, ()):
            if entry.get("type") == "doczip":
                return version, verdata, entry
    return None


def page_documents(storage, indexname: str, project: str, found) -> Iterator[dict]:
    """A document for each HTML (or Sphinx JSON) page of the doc zip ``found``."""
    version, verdata, entry = found
    base = {
        "kind": "doc",
        "owner": owner_key(indexname, project),
        "index": indexname,
        "user": indexname.split("/")[0],
        "project": project,
        "version": version,
        "display": verdata.get("name") or project,
    }
    try:
        with storage.open_file(entry["relpath"]) as fp, zipfile.ZipFile(fp) as zf:
            yield from _pages(zf, indexname, project, base)
    except (OSError, zipfile.BadZipFile, DocZipError, EOFError) as exc:
        log.warning("search: docs of %s %s on %s not indexed: %s", project, version, indexname, exc)


def _pages(zf: zipfile.ZipFile, indexname: str, project: str, base: dict) -> Iterator[dict]:
    count = 0
    for info, path in doc_members(zf):
        if count >= MAX_PAGES:
            return
        if not path.lower().endswith(PAGE_SUFFIXES) or info.file_size > MAX_PAGE_BYTES:
            continue
        found = page_text(path, read_member(zf, info, MAX_PAGE_BYTES))
        if found is None:
            continue
        count += 1
        title, text = found
        key = page_key(indexname, project, path)
        yield {**base, "key": key, "path": path, "title": title, "text": text}


def documents(tx, storage, types, indexname: str, project: str) -> list[dict]:
    """Every document of ``project`` on ``indexname`` as of ``tx``; none if it is gone."""
    user, _, index = indexname.partition("/")
    if not is_private(types, tx.get(keys.index(user, index))):
        return []
    versions = releases.all_versions(tx, indexname, project)
    versions = {v: d for v, d in versions.items() if d is not None}
    best = newest(versions)
    if best is None:
        return []
    found = [project_document(indexname, project, *best)]
    docs = doczip_entry(versions)
    if docs is not None:
        found.extend(page_documents(storage, indexname, project, docs))
    return found
