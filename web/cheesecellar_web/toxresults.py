"""Every tox result of one release file, read and checked for a page or a JSON answer."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cheesecellar.errors import NotFound
from cheesecellar.model import releases
from cheesecellar.model.indexes import sro

#: Stored results larger than this are not read (uploads are bounded far below it).
READ_LIMIT = 16 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Command:
    command: str
    retcode: str
    output: str
    ok: bool


@dataclasses.dataclass(frozen=True)
class EnvRun:
    """One tox environment of a result; ``status`` is passed, failed, setup failed or no tests."""

    name: str
    python: str
    status: str
    setup: tuple[Command, ...]
    test: tuple[Command, ...]


@dataclasses.dataclass(frozen=True)
class ToxRun:
    """One stored result; ``problem`` says why it cannot be shown (then it has no envs)."""

    name: str
    href: str
    upload_time: str
    host: str = ""
    platform: str = ""
    toxversion: str = ""
    status: str = "unknown"
    envs: tuple[EnvRun, ...] = ()
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ReleaseRuns:
    indexname: str
    project: str
    version: str
    filename: str
    file_href: str
    runs: tuple[ToxRun, ...]


def find_release(tx, types, indexname: str, project: str, version: str, filename: str):
    """``(index holding it, release entry, its tox result entries)`` over the resolution
    order of ``indexname``; a 404 when no private index has the file."""
    for name, config in sro(tx, types, indexname):
        if types.get(config["type"]).is_mirror:
            continue
        entries = (releases.get_version(tx, name, project, version) or {}).get(releases.FILES, ())
        release = next((e for e in entries if _is_release(e) and e["filename"] == filename), None)
        if release is not None:
            results = [e for e in entries if e.get("for_relpath") == release["relpath"]]
            return name, release, [e for e in results if e.get("type") == "toxresult"]
    raise NotFound(f"no release file {filename!r} of {project} {version} on {indexname}")


def _is_release(entry: dict) -> bool:
    return entry.get("type", "releasefile") == "releasefile"


def read_runs(storage, entries: list[dict], url_for) -> tuple[ToxRun, ...]:
    """The results of ``entries``, newest first; one that cannot be read becomes a run
    with a ``problem`` instead of an error."""
    newest_first = sorted(entries, key=lambda e: e.get("upload_time") or "", reverse=True)
    return tuple(read_run(storage, entry, url_for) for entry in newest_first)


def read_run(storage, entry: dict, url_for) -> ToxRun:
    base = ToxRun(entry["filename"], url_for(entry["relpath"]), entry.get("upload_time") or "")
    try:
        with storage.open_file(entry["relpath"]) as fp:
            raw = fp.read(READ_LIMIT + 1)
    except OSError:
        return dataclasses.replace(base, problem="the stored result cannot be read")
    if len(raw) > READ_LIMIT:
        return dataclasses.replace(base, problem="the stored result is too large to show")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return dataclasses.replace(base, problem="the stored result is not valid JSON")
    if not isinstance(data, dict) or not isinstance(data.get("testenvs"), dict):
        return dataclasses.replace(base, problem="the stored result has no tox environments")
    return parse_run(base, data)


def parse_run(base: ToxRun, data: dict) -> ToxRun:
    envs = tuple(
        parse_env(str(name), env)
        for name, env in sorted(data["testenvs"].items())
        if isinstance(env, dict) and not _internal(str(name), env)
    )
    return dataclasses.replace(
        base,
        host=_text(data.get("host")),
        platform=_text(data.get("platform")),
        toxversion=_text(data.get("toxversion")),
        status=_overall(envs),
        envs=envs,
    )


def _internal(name: str, env: dict) -> bool:
    """tox 4's packaging environments (``.pkg``) report no commands of interest."""
    return name.startswith(".") and not env.get("test") and not env.get("setup")


def parse_env(name: str, env: dict) -> EnvRun:
    setup = _commands(env.get("setup"))
    test = _commands(env.get("test"))
    if not all(command.ok for command in setup):
        status = "setup failed"
    elif not test:
        status = "no tests"
    else:
        status = "passed" if all(command.ok for command in test) else "failed"
    return EnvRun(name, _python(env.get("python")), status, setup, test)


def _commands(found: Any) -> tuple[Command, ...]:
    if not isinstance(found, list):
        return ()
    return tuple(_command(item) for item in found if isinstance(item, dict))


def _command(item: dict) -> Command:
    words = item.get("command")
    shown = " ".join(str(w) for w in words) if isinstance(words, list) else _text(words)
    # tox 3 wrote the exit code as a string, tox 4 as a number.
    retcode = _text(item.get("retcode")).strip()
    return Command(shown, retcode, _text(item.get("output")), retcode == "0")


def _python(found: Any) -> str:
    if isinstance(found, dict):
        return _text(found.get("version")).split(" ", 1)[0]
    return ""


def _overall(envs: tuple[EnvRun, ...]) -> str:
    statuses = {env.status for env in envs}
    if not statuses:
        return "no tests"
    if statuses & {"failed", "setup failed"}:
        return "failed"
    return "passed" if "passed" in statuses else "no tests"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
