"""Releases of a private index: projects, versions, their files and what happened to them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import IO
from typing import Any

from cheesecellar.errors import Conflict
from cheesecellar.errors import Forbidden
from cheesecellar.errors import NotFound
from cheesecellar.model import keys

FILES = "+files"
#: Metadata keys the server owns; a client's metadata cannot set them.
SERVER_KEYS = frozenset({FILES, "yanked", "yanked_reason"})


def file_relpath(indexname: str, sha256: str, filename: str) -> str:
    """Where a stored file lives, relative to the file root and to the server URL."""
    return f"{indexname}/+f/{sha256[:3]}/{sha256[3:16]}/{filename}"


def now_iso() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


def log_entry(what: str, who: str | None, indexname: str, **extra: Any) -> dict:
    return {"what": what, "who": who, "when": list(time.gmtime()[:6]), "dst": indexname, **extra}


# --- reading ---------------------------------------------------------------------------


def get_project(tx, indexname: str, project: str) -> dict | None:
    return tx.get(keys.project(indexname, project))


def version_strings(tx, indexname: str, project: str) -> list[str]:
    prefix = keys.versions_prefix(indexname, project)
    return [key[len(prefix) :] for key in tx.keys(prefix)]


def get_version(tx, indexname: str, project: str, version: str) -> dict | None:
    return tx.get(keys.version(indexname, project, version))


def require_version(tx, indexname: str, project: str, version: str) -> dict:
    verdata = get_version(tx, indexname, project, version)
    if verdata is None:
        raise NotFound(f"version {version!r} of project {project!r} not found on {indexname}")
    return verdata


def all_versions(tx, indexname: str, project: str) -> dict[str, dict]:
    return {
        v: get_version(tx, indexname, project, v) for v in version_strings(tx, indexname, project)
    }


def find_file(tx, relpath: str) -> tuple[str, str, dict] | None:
    """``(project, version, entry)`` of a stored file, from its relative path."""
    where = tx.get(keys.file(relpath))
    if where is None:
        return None
    verdata = get_version(tx, where["index"], where["project"], where["version"]) or {}
    for entry in verdata.get(FILES, ()):
        if entry["relpath"] == relpath:
            return where["project"], where["version"], entry
    return None


# --- writing ---------------------------------------------------------------------------


def _ensure_version(tx, indexname: str, project: str, name: str, version: str) -> dict:
    if get_project(tx, indexname, project) is None:
        tx.set(keys.project(indexname, project), {"name": name})
    verdata = get_version(tx, indexname, project, version)
    if verdata is None:
        verdata = {"name": name, "version": version, FILES: []}
    return dict(verdata)


def set_metadata(
    tx, indexname: str, project: str, version: str, metadata: Mapping[str, Any]
) -> dict:
    """Register or update the metadata of a version; files and yank state are kept."""
    verdata = _ensure_version(tx, indexname, project, metadata.get("name") or project, version)
    name = metadata.get("name") or verdata["name"]
    for key, value in metadata.items():
        if key not in SERVER_KEYS:
            verdata[key] = value
    verdata["name"], verdata["version"] = name, version
    tx.set(keys.version(indexname, project, version), verdata)
    return verdata


def add_file(
    tx,
    indexname: str,
    project: str,
    version: str,
    filename: str,
    fp: IO[bytes],
    sha256: str,
    *,
    who: str | None,
    volatile: bool,
    filetype: str = "releasefile",
    extra: Mapping[str, Any] | None = None,
    relpath: str | None = None,
) -> tuple[dict, bool]:
    """Store a file of a version; return ``(entry, identical_reupload)``.

    ``sha256`` is the digest of ``fp``'s content, computed by the caller before any
    write. A non-volatile index refuses a different file under an existing name; the
    identical file is accepted and changes nothing. ``relpath`` stores the file there
    instead of at its content address (a tox result sits next to its release file).
    """
    existing = get_version(tx, indexname, project, version)
    files = list(existing[FILES]) if existing else []
    old = next((e for e in files if e["filename"] == filename), None)
    if old is not None and old["hashes"]["sha256"] == sha256:
        return old, True
    if old is not None and not volatile:
        raise Conflict(f"{filename} already exists in non-volatile index")
    if existing is None:
        verdata = _ensure_version(tx, indexname, project, project, version)
    else:
        verdata = dict(existing)
    log = [log_entry("upload", who, indexname)]
    if old is not None:
        # Dropped before the new file is staged, which may take the same path.
        files = _drop_entry(tx, files, old["relpath"])
        log = [*old.get("log", ()), log_entry("overwrite", who, indexname, count=_overwrites(old))]
    ref = tx.store_file(relpath or file_relpath(indexname, sha256, filename), fp)
    if ref.sha256 != sha256:
        raise Conflict(f"{filename}: content changed while it was stored")
    entry = {
        "filename": filename,
        "relpath": ref.path,
        "type": filetype,
        "hashes": {"sha256": ref.sha256},
        "size": ref.size,
        "upload_time": now_iso(),
        "log": log,
        **(extra or {}),
    }
    files.append(entry)
    verdata[FILES] = files
    tx.set(keys.version(indexname, project, version), verdata)
    tx.set(keys.file(ref.path), {"index": indexname, "project": project, "version": version})
    return entry, False


def _overwrites(old: dict) -> int:
    return 1 + sum(1 for item in old.get("log", ()) if item.get("what") == "overwrite")


def _remove_entry_files(tx, entry: dict) -> None:
    tx.delete_file(entry["relpath"])
    tx.delete(keys.file(entry["relpath"]))
    if entry.get("core_metadata"):
        tx.delete_file(entry["relpath"] + ".metadata")


def _drop_entry(tx, files: list[dict], relpath: str) -> list[dict]:
    """Remove the file at ``relpath`` and the files attached to it (its tox results);
    return the entries that stay."""
    kept = []
    for entry in files:
        if relpath in (entry["relpath"], entry.get("for_relpath")):
            _remove_entry_files(tx, entry)
        else:
            kept.append(entry)
    return kept


def remove_file(tx, indexname: str, relpath: str, *, volatile: bool, force: bool) -> None:
    """Remove one file and the files attached to it; the version goes when its last
    file goes."""
    found = find_file(tx, relpath)
    if found is None:
        raise NotFound("no such file")
    if not volatile and not force:
        raise Forbidden("cannot delete version on non-volatile index")
    project, version, _entry = found
    verdata = dict(get_version(tx, indexname, project, version))
    verdata[FILES] = _drop_entry(tx, verdata[FILES], relpath)
    if verdata[FILES]:
        tx.set(keys.version(indexname, project, version), verdata)
    else:
        _drop_version(tx, indexname, project, version)


def remove_version(
    tx, indexname: str, project: str, version: str, *, volatile: bool, force: bool
) -> None:
    require_version(tx, indexname, project, version)
    if not volatile and not force:
        raise Forbidden("cannot delete version on non-volatile index")
    _drop_version(tx, indexname, project, version)


def remove_project(tx, indexname: str, project: str, *, volatile: bool, force: bool) -> None:
    if get_project(tx, indexname, project) is None:
        raise NotFound(f"project {project!r} not found on {indexname}")
    if not volatile and not force:
        raise Forbidden(f"project {project!r} is on non-volatile index {indexname}")
    for version in version_strings(tx, indexname, project):
        _drop_version(tx, indexname, project, version)
    tx.delete(keys.project(indexname, project))


def _drop_version(tx, indexname: str, project: str, version: str) -> None:
    for entry in get_version(tx, indexname, project, version).get(FILES, ()):
        _remove_entry_files(tx, entry)
    tx.delete(keys.version(indexname, project, version))
    if not version_strings(tx, indexname, project):
        tx.delete(keys.project(indexname, project))


def purge_index(tx, indexname: str) -> None:
    """Remove every project, version and file of an index."""
    for key in tx.keys(keys.projects_prefix(indexname)):
        project = key[len(keys.projects_prefix(indexname)) :]
        for version in version_strings(tx, indexname, project):
            _drop_version(tx, indexname, project, version)
        tx.delete(key)


def set_yanked(
    tx, indexname: str, project: str, version: str, yanked: bool, reason: str | None
) -> dict:
    """Mark a version yanked (PEP 592) or not; its files stay downloadable."""
    verdata = dict(require_version(tx, indexname, project, version))
    verdata.pop("yanked_reason", None)
    if yanked:
        verdata["yanked"] = True
        if reason:
            verdata["yanked_reason"] = reason
    else:
        verdata.pop("yanked", None)
    tx.set(keys.version(indexname, project, version), verdata)
    return verdata
