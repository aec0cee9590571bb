"""Reading a devpi-server export (``dataindex.json``, dumpversion 1 or 2) as a dump."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cheesecellar_export.devpiconfig import check_dump_name
from cheesecellar_export.devpiconfig import convert_index_config
from cheesecellar_export.devpiconfig import convert_user
from cheesecellar_export.devpiconfig import drop_missing_bases
from cheesecellar_export.devpifiles import DEVPI_DOCUMENT
from cheesecellar_export.devpifiles import ExportFiles
from cheesecellar_export.devpimirror import mirror_records
from cheesecellar_export.devpirelease import IndexContext
from cheesecellar_export.devpirelease import group_files
from cheesecellar_export.devpirelease import group_projects
from cheesecellar_export.devpirelease import stage_projects
from cheesecellar_export.dump import FORMAT_NAME
from cheesecellar_export.dump import FORMAT_VERSION
from cheesecellar_export.dump import Dump
from cheesecellar_export.dump import DumpError
from cheesecellar_export.reader import read_json

#: The dumpversions devpi-server has written: "2" since devpi-server 1.2.2 (2013).
DUMPVERSIONS = ("1", "2")


def read_devpi_dump(exportdir: Path, workdir: Path) -> Dump:
    """Read what ``devpi-export`` wrote into ``exportdir`` as a cheesecellar dump.

    Every file is checked against the hashes devpi recorded. A wheel's PEP 658 metadata
    file is extracted into ``workdir``, which must outlive the import.

    :raises DumpError: naming the file, user, index or key that is wrong.
    """
    data = read_json(exportdir / DEVPI_DOCUMENT)
    if not isinstance(data, dict):
        raise DumpError(f"{DEVPI_DOCUMENT} does not hold a JSON object")
    dumpversion = check_dumpversion(data)
    users, indexes = _required(data, "users"), _required(data, "indexes")
    warnings: list[str] = []
    files = ExportFiles(exportdir, workdir)
    converted_users = {name: convert_user(name, record, warnings) for name, record in users.items()}
    configs = _index_configs(indexes, converted_users, warnings)
    document_indexes = {
        name: _index(IndexContext(name, files, warnings), indexes[name], config, dumpversion)
        for name, config in configs.items()
    }
    unlisted = files.unlisted_warning()
    if unlisted:
        warnings.append(unlisted)
    server = data.get("devpi_server")
    version = server if isinstance(server, str) else "(version unknown)"
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exported_by": f"devpi-server {version}",
        "exported_at": _mtime(exportdir / DEVPI_DOCUMENT),
        "source": {
            "devpi_server": server,
            "dumpversion": dumpversion,
            "pythonversion": data.get("pythonversion"),
        },
        "include_mirrored_files": any("mirror" in entry for entry in document_indexes.values()),
        "users": converted_users,
        "indexes": document_indexes,
        "records": {},
        "blobs": files.blobs,
    }
    origin = f"devpi-server {version} dump (dumpversion {dumpversion})"
    return Dump(document, files.sources, origin, warnings)


def check_dumpversion(data: dict) -> str:
    if "dumpversion" not in data:
        raise DumpError(f"{DEVPI_DOCUMENT}: missing key 'dumpversion'")
    dumpversion = str(data["dumpversion"])
    if dumpversion not in DUMPVERSIONS:
        raise DumpError(
            f"unknown devpi dumpversion '{dumpversion}'; cheesecellar reads devpi dumps of "
            "dumpversion 1 and 2"
        )
    return dumpversion


def _required(data: dict, key: str) -> dict:
    if key not in data:
        raise DumpError(f"{DEVPI_DOCUMENT}: missing key {key!r}")
    if not isinstance(data[key], dict):
        raise DumpError(f"{DEVPI_DOCUMENT}: {key!r} is not a JSON object")
    return data[key]


def _index_configs(indexes: dict, users: dict, warnings: list[str]) -> dict[str, dict]:
    configs = {}
    for name, data in indexes.items():
        _check_index_name(name, users)
        if not isinstance(data, dict):
            raise DumpError(f"{DEVPI_DOCUMENT}: index {name}: not a JSON object")
        if "indexconfig" not in data:
            raise DumpError(f"{DEVPI_DOCUMENT}: index {name}: missing key 'indexconfig'")
        configs[name] = convert_index_config(name, data["indexconfig"], warnings)
    drop_missing_bases(configs, warnings)
    return configs


def _check_index_name(name: Any, users: dict) -> None:
    user, sep, index = name.partition("/") if isinstance(name, str) else ("", "", "")
    if not sep or "/" in index:
        raise DumpError(f"{DEVPI_DOCUMENT}: bad index name {name!r} (not user/index)")
    check_dump_name("user", user)
    check_dump_name("index", index)
    if user not in users:
        raise DumpError(f"{DEVPI_DOCUMENT}: index {name}: its user {user!r} is not in the dump")


def _index(ctx: IndexContext, data: dict, config: dict, dumpversion: str) -> dict:
    """One index of the document: its config, its projects, a mirror's cached files."""
    projects = group_projects(ctx.indexname, data.get("projects"))
    filedescs = group_files(ctx.indexname, data.get("files"), dumpversion)
    strays = sorted(
        d["relpath"] for p, descs in filedescs.items() if p not in projects for d in descs
    )
    if strays:
        raise DumpError(
            f"{DEVPI_DOCUMENT}: index {ctx.indexname}: files of projects the dump does not "
            f"list (devpi would not import them either): {', '.join(strays)}"
        )
    if config.get("type") != "mirror":
        return {"config": config, "projects": stage_projects(ctx, projects, filedescs)}
    entry: dict = {"config": config, "projects": {}}
    if "files" in data:
        entry["mirror"] = {"records": mirror_records(ctx, projects, filedescs)}
    return entry


def _mtime(path: Path) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime))
