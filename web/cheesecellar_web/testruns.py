"""Tox results of a release file in brief: the newest result per host, platform and env."""

from __future__ import annotations

from typing import Any

from cheesecellar.interfaces import IStorage
from cheesecellar_web.toxresults import read_run

#: At most this many of the newest results of a version are read for its page.
MAX_RESULTS = 200
FAILED = frozenset({"failed", "setup failed"})


def summaries(request, entries: list[dict]) -> dict[str, list[dict[str, Any]]]:
    """``{release relpath: [row, ...]}``: one row per (host, platform, env), from the
    newest result that has it; ``status`` as the tox results page says it."""
    storage = request.registry.getUtility(IStorage)
    newest_first = sorted(entries, key=lambda e: e.get("upload_time") or "", reverse=True)
    found: dict[str, dict[tuple, dict]] = {}
    for entry in newest_first[:MAX_RESULTS]:
        run = read_run(storage, entry, lambda relpath: relpath)
        rows = found.setdefault(entry.get("for_relpath", ""), {})
        for env in run.envs:
            key = (env.name, run.host, run.platform)
            rows.setdefault(key, _row(key, env.status, run.upload_time))
    return {relpath: sorted(rows.values(), key=_order) for relpath, rows in found.items() if rows}


def _row(key: tuple, status: str, upload_time: str) -> dict[str, Any]:
    env, host, platform = key
    kind = "passed" if status == "passed" else "failed" if status in FAILED else "other"
    return {
        "env": env,
        "host": host,
        "platform": platform,
        "status": status,
        "kind": kind,
        "upload_time": upload_time,
    }


def _order(row: dict) -> tuple:
    return (row["env"], row["host"], row["platform"])
