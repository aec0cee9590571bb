"""Projects, versions and file entries of a devpi export, as a stage index stores them."""

from __future__ import annotations

import calendar
import dataclasses
import time
from email.utils import parsedate_to_datetime
from typing import Any

from packaging.version import InvalidVersion
from packaging.version import Version

from cheesecellar.errors import BadRequest
from cheesecellar.model.distfiles import DistName
from cheesecellar.model.distfiles import check_filename
from cheesecellar.model.names import normalize_name
from cheesecellar.model.releases import FILES
from cheesecellar.model.releases import file_relpath
from cheesecellar_export.devpifiles import DEVPI_DOCUMENT
from cheesecellar_export.devpifiles import ExportFiles
from cheesecellar_export.devpifiles import drop_release_hash
from cheesecellar_export.devpifiles import fold_hashes
from cheesecellar_export.dump import DumpError
from cheesecellar_mirror.reader import guess_version

#: devpi's names of metadata fields that cheesecellar stores under the names of
#: ``packaging.metadata`` (as an upload does).
RENAMED_METADATA = {
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "license_file": "license_files",
    "provides_extras": "provides_extra",
}
#: Files of a version in the order they are attached: tox results need their release file.
TYPE_ORDER = {"releasefile": 0, "toxresult": 1, "doczip": 2}
EPOCH_ISO = "1970-01-01T00:00:00.000000Z"


@dataclasses.dataclass
class IndexContext:
    """What the conversion of one index needs."""

    indexname: str
    files: ExportFiles
    warnings: list[str]


# --- the index's "projects" and "files" ------------------------------------------------


def group_projects(indexname: str, projects: Any) -> dict[str, dict[str, Any]]:
    """``projects`` by normalised name (devpi merges spellings of one name the same way)."""
    if projects is None:
        return {}
    if not isinstance(projects, dict):
        raise DumpError(f"{DEVPI_DOCUMENT}: index {indexname}: 'projects' is not a JSON object")
    grouped: dict[str, dict[str, Any]] = {}
    for name, versions in projects.items():
        project = check_project_name(indexname, name)
        if not isinstance(versions, dict):
            raise DumpError(f"{DEVPI_DOCUMENT}: index {indexname}: project {name}: not an object")
        grouped.setdefault(project, {}).update(versions)
    return grouped


def check_project_name(indexname: str, name: Any) -> str:
    project = normalize_name(name) if isinstance(name, str) else ""
    if not project.strip("-"):
        raise DumpError(f"{DEVPI_DOCUMENT}: index {indexname}: bad project name {name!r}")
    return project


def check_version(where: str, version: Any) -> str:
    ok = isinstance(version, str) and version.strip() == version and version
    if not ok or "/" in version or version in (".", "..") or not version.isprintable():
        raise DumpError(f"{DEVPI_DOCUMENT}: {where}: bad version {version!r}")
    return version


def group_files(indexname: str, files: Any, dumpversion: str) -> dict[str, list[dict]]:
    """The index's file descriptions by normalised project name, migrated."""
    if files is None:
        return {}
    if not isinstance(files, list):
        raise DumpError(f"{DEVPI_DOCUMENT}: index {indexname}: 'files' is not a list")
    grouped: dict[str, list[dict]] = {}
    for desc in files:
        desc = migrate_filedesc(indexname, desc, dumpversion)
        grouped.setdefault(check_project_name(indexname, desc["projectname"]), []).append(desc)
    return grouped


def migrate_filedesc(indexname: str, desc: Any, dumpversion: str) -> dict:
    """A file description with devpi's migrations: the version of a dumpversion 1 file
    from its name, hashes folded, a tox result's copy of its release file's hash dropped."""
    where = f"{DEVPI_DOCUMENT}: index {indexname}"
    if not isinstance(desc, dict):
        raise DumpError(f"{where}: a file entry is not a JSON object")
    for key in ("type", "projectname", "relpath"):
        if not isinstance(desc.get(key), str) or not desc[key]:
            raise DumpError(f"{where}: a file entry has no {key!r}")
    desc = dict(desc)
    if desc["type"] == "toxresult" and not isinstance(desc.get("for_entrypath"), str):
        raise DumpError(f"{desc['relpath']}: the tox result has no 'for_entrypath'")
    if dumpversion == "1":
        desc["version"] = version_from_filename(desc)
    check_version(desc["relpath"], desc.get("version"))
    hashes = fold_hashes(desc.get("entrymapping"))
    if desc["type"] == "toxresult":
        hashes = drop_release_hash(desc["relpath"], hashes)
    desc["hashes"] = hashes
    return desc


def version_from_filename(desc: dict) -> str:
    """dumpversion 1 has no ``version``: it is read from the file name (a tox result's
    from its release file's name)."""
    path = desc["for_entrypath"] if desc["type"] == "toxresult" else desc["relpath"]
    filename = path.rpartition("/")[2]
    if filename.endswith(".doc.zip"):
        return filename.removesuffix(".doc.zip").rpartition("-")[2]
    return guess_version(normalize_name(desc["projectname"]), filename)


# --- versions ----------------------------------------------------------------------------


def stage_projects(ctx: IndexContext, projects: dict, filedescs: dict[str, list]) -> dict:
    """The ``projects`` of a document index: project records and versions with files."""
    converted = {}
    for project, versions in projects.items():
        records = {}
        for version, verdata in versions.items():
            where = f"index {ctx.indexname} project {project}"
            records[check_version(where, version)] = convert_verdata(project, version, verdata)
        display = display_name(project, records)
        by_version: dict[str, list[dict]] = {}
        for desc in filedescs.get(project, ()):
            by_version.setdefault(desc["version"], []).append(desc)
        for version, descs in by_version.items():
            record = records.setdefault(version, {"name": display, "version": version})
            record[FILES] = version_files(ctx, project, version, descs)
        for record in records.values():
            record.setdefault(FILES, [])
        converted[project] = {"record": {"name": display}, "versions": records}
    return converted


def convert_verdata(project: str, version: str, verdata: Any) -> dict:
    """devpi's version metadata as ours: devpi's ``+`` keys and empty fields left out,
    fields renamed as ``packaging.metadata`` names them, yanks kept."""
    if not isinstance(verdata, dict):
        raise DumpError(f"{DEVPI_DOCUMENT}: {project} {version}: the metadata is not an object")
    record = {}
    for key, value in verdata.items():
        if key.startswith(("+", ":")) or key in ("yanked", "yanked_reason"):
            continue
        if value not in ("", None, [], {}):
            record[RENAMED_METADATA.get(key, key)] = value
    if isinstance(record.get("project_urls"), list):
        record["project_urls"] = _project_urls(record["project_urls"])
    name = verdata.get("name")
    record["name"] = name if isinstance(name, str) and name else project
    record["version"] = version
    record.update(_yank(verdata))
    return record


def _project_urls(items: list) -> dict[str, str]:
    """devpi keeps ``Label, URL`` strings; an upload stores a label -> URL mapping."""
    pairs = (item.split(",", 1) for item in items if isinstance(item, str) and "," in item)
    return {label.strip(): url.strip() for label, url in pairs}


def _yank(verdata: dict) -> dict:
    yanked, reason = verdata.get("yanked"), verdata.get("yanked_reason")
    if not yanked:
        return {}
    reason = yanked if isinstance(yanked, str) else reason
    return {"yanked": True, **({"yanked_reason": reason} if reason else {})}


def display_name(project: str, records: dict[str, dict]) -> str:
    """The name the newest version spells the project with."""
    if not records:
        return project
    return records[max(records, key=_version_order)]["name"]


def _version_order(version: str) -> tuple:
    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, version)


# --- files --------------------------------------------------------------------------------


def version_files(ctx: IndexContext, project: str, version: str, descs: list[dict]) -> list:
    """The ``+files`` entries of one version, each file checked and listed as a blob."""
    entries: list[dict] = []
    releases: dict[str, dict] = {}
    for desc in sorted(descs, key=lambda d: TYPE_ORDER.get(d["type"], 3)):
        kind = desc["type"]
        if kind == "releasefile":
            entry = _release_entry(ctx, project, version, desc)
            releases[entry["filename"]] = entry
        elif kind == "toxresult":
            entry = _toxresult_entry(ctx, desc, releases)
        elif kind == "doczip":
            entry = _doczip_entry(ctx, project, version, desc)
            entries = _without_older_doczip(ctx, entries, entry)
        else:
            raise DumpError(f"{desc['relpath']}: unknown file type {kind!r}")
        entries.append(entry)
    return entries


def _release_entry(ctx: IndexContext, project: str, version: str, desc: dict) -> dict:
    checked = ctx.files.check(desc["relpath"], desc["hashes"])
    filename = _filename(desc["relpath"], desc["relpath"].rpartition("/")[2])
    entry = _entry(
        ctx, desc, checked, filename, file_relpath(ctx.indexname, checked.sha256, filename)
    )
    if filename.endswith(".whl"):
        dist = DistName(filename, project, version, "wheel")
        metadata = ctx.files.add_core_metadata(entry["relpath"], checked, dist, ctx.warnings)
        if metadata is not None:
            entry["core_metadata"] = metadata
    return entry


def _doczip_entry(ctx: IndexContext, project: str, version: str, desc: dict) -> dict:
    checked = ctx.files.check(desc["relpath"], desc["hashes"])
    filename = _filename(desc["relpath"], f"{project}-{version}.doc.zip")
    return _entry(
        ctx, desc, checked, filename, file_relpath(ctx.indexname, checked.sha256, filename)
    )


def _without_older_doczip(ctx: IndexContext, entries: list[dict], newer: dict) -> list[dict]:
    """A version has one doc zip; devpi exports only the newest, an edited dump may not."""
    older = [entry for entry in entries if entry["type"] == "doczip"]
    for entry in older:
        if entry["relpath"] != newer["relpath"]:
            ctx.files.drop_blob(entry["relpath"])
        ctx.warnings.append(f"{newer['filename']}: two doc zips; the one listed last was kept")
    return [entry for entry in entries if entry["type"] != "doczip"]


def _toxresult_entry(ctx: IndexContext, desc: dict, releases: dict[str, dict]) -> dict:
    target = desc["for_entrypath"].rpartition("/")[2]
    release = releases.get(target)
    if release is None:
        raise DumpError(
            f"{desc['relpath']}: a tox result of {target}, which is no release file "
            f"of {desc['projectname']} {desc['version']} in {ctx.indexname}"
        )
    checked = ctx.files.check(desc["relpath"], desc["hashes"])
    filename = _filename(desc["relpath"], desc["relpath"].rpartition("/")[2])
    relpath = f"{release['relpath'].rpartition('/')[0]}/{filename}"
    entry = _entry(ctx, desc, checked, filename, relpath)
    entry["for_relpath"] = release["relpath"]
    return entry


def _filename(relpath: str, filename: str) -> str:
    try:
        return check_filename(filename)
    except BadRequest as exc:
        raise DumpError(f"{relpath}: {exc.message}") from None


def _entry(ctx: IndexContext, desc: dict, checked, filename: str, relpath: str) -> dict:
    """A file entry as ``releases.add_file`` writes one; the file is listed as a blob."""
    ctx.files.add_file(relpath, checked)
    log = file_log(ctx.indexname, desc)
    return {
        "filename": filename,
        "relpath": relpath,
        "type": desc["type"],
        "hashes": {"sha256": checked.sha256},
        "size": checked.size,
        "upload_time": upload_time(desc.get("entrymapping"), log),
        "log": log,
    }


def file_log(indexname: str, desc: dict) -> list[dict]:
    """devpi's history of the file; without one, an upload by ``<import>`` (as devpi-import
    records it)."""
    log = desc.get("log")
    if log is None:
        return [
            {"what": "upload", "who": "<import>", "when": list(time.gmtime()[:6]), "dst": indexname}
        ]
    if not isinstance(log, list) or not all(isinstance(item, dict) for item in log):
        raise DumpError(f"{desc['relpath']}: 'log' is not a list of objects")
    return log


def upload_time(entrymapping: Any, log: list[dict]) -> str:
    """When the file was stored: devpi's ``last_modified``, else the first log entry's time."""
    stamp = entrymapping.get("last_modified") if isinstance(entrymapping, dict) else None
    seconds = http_date_seconds(stamp)
    if seconds is None and log and _is_time(log[0].get("when")):
        seconds = calendar.timegm((*log[0]["when"], 0, 0, 0))
    if seconds is None:
        return EPOCH_ISO
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(seconds))


def http_date_seconds(stamp: Any) -> int | None:
    """``Sun, 22 Nov 2026 10:52:23 GMT`` as a UNIX time; None if it is not one."""
    if not isinstance(stamp, str):
        return None
    try:
        return int(parsedate_to_datetime(stamp).timestamp())
    except (TypeError, ValueError, IndexError):
        return None


def _is_time(when: Any) -> bool:
    return isinstance(when, list) and len(when) == 6 and all(type(n) is int for n in when)
