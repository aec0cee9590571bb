"""The cached files of a devpi mirror index as the records the mirror plugin keeps: a
project page listing the cached files, and a ``file/`` record for each of them."""

from __future__ import annotations

import time
from urllib.parse import urldefrag

from cheesecellar.model import keys
from cheesecellar.model.distfiles import DistName
from cheesecellar_export.devpirelease import IndexContext
from cheesecellar_export.devpirelease import display_name
from cheesecellar_export.devpirelease import http_date_seconds
from cheesecellar_export.dump import DumpError
from cheesecellar_mirror.reader import file_entry
from cheesecellar_mirror.simpleparse import UpstreamFile
from cheesecellar_mirror.simpleparse import UpstreamPage
from cheesecellar_mirror.simpleparse import safe_filename


def mirror_records(ctx: IndexContext, projects: dict, filedescs: dict[str, list]) -> dict:
    """``mirror/`` and ``file/`` records for the files a devpi mirror had cached.

    The page of each project lists only its cached files, as if upstream had offered
    nothing else; it is fetched again from upstream on its first use, and the files
    keep their paths because those are named after the hashes upstream gave.
    """
    records: dict[str, dict] = {}
    for project, descs in filedescs.items():
        versions = {v: d for v, d in projects.get(project, {}).items() if isinstance(d, dict)}
        names = {v: {"name": str(d.get("name") or project)} for v, d in versions.items()}
        upfiles, fetched = [], 0
        for desc in descs:
            upfile, record_key, record = _cached_file(ctx, project, versions, desc)
            upfiles.append(upfile)
            records[record_key] = record
            fetched = max(fetched, http_date_seconds(_mapping(desc).get("last_modified")) or 0)
        page = UpstreamPage(display_name(project, names), tuple(upfiles))
        records[keys.mirror_page(ctx.indexname, project)] = {
            "page": page.to_dict(),
            "fetched": fetched or time.time(),
        }
    return records


def _mapping(desc: dict) -> dict:
    mapping = desc.get("entrymapping")
    return mapping if isinstance(mapping, dict) else {}


def _cached_file(ctx: IndexContext, project: str, versions: dict, desc: dict):
    """``(UpstreamFile, file record key, file record)`` of one cached file."""
    relpath = desc["relpath"]
    if desc["type"] != "releasefile":
        raise DumpError(f"{relpath}: a mirror index holds release files, not a {desc['type']}")
    url = _mapping(desc).get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise DumpError(f"{relpath}: the cached file has no upstream 'url'")
    checked = ctx.files.check(relpath, desc["hashes"])
    filename = relpath.rpartition("/")[2]
    verdata = versions.get(desc["version"], {})
    upfile = UpstreamFile(
        filename=filename,
        url=urldefrag(url).url,
        hashes={k: v for k, v in checked.hashes.items() if k in desc["hashes"]},
        requires_python=_text(verdata.get("requires_python")),
        yanked=_yanked(verdata.get("yanked")),
        size=checked.size,
    )
    entry = file_entry(ctx.indexname, {}, upfile) if safe_filename(filename) else None
    if entry is None:
        raise DumpError(f"{relpath}: {filename!r} cannot be served as a file name")
    ctx.files.add_file(entry["relpath"], checked)
    record = {
        "index": ctx.indexname,
        "project": project,
        "version": desc["version"],
        "mirror": True,
        "hashes": {**entry["hashes"], "sha256": checked.sha256},
    }
    if filename.endswith(".whl"):
        dist = DistName(filename, project, desc["version"], "wheel")
        metadata = ctx.files.add_core_metadata(entry["relpath"], checked, dist, ctx.warnings)
        if metadata is not None:
            record["core_metadata"] = metadata
    return upfile, keys.file(entry["relpath"]), record


def _yanked(value) -> bool | str:
    """PEP 592 as a simple page gives it: False, True, or the reason."""
    return value if isinstance(value, str) and value else bool(value)


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None
