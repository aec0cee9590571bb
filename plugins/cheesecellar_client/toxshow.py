"""Reading tox results (``tox --result-json``) and showing pass/fail per environment."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from collections.abc import Iterator

#: Column widths of host, platform and environment in a status line.
HOST_WIDTH = 10
PLATFORM_WIDTH = 7
ENV_WIDTH = 10


class BadToxResult(ValueError):
    """The stored JSON is not a tox result this client can read."""


@dataclasses.dataclass(frozen=True)
class CommandRun:
    """One command tox ran, and whether it failed."""

    command: str
    failed: bool
    output: str


@dataclasses.dataclass(frozen=True)
class EnvResult:
    """The outcome of one tox environment on one host."""

    host: str
    platform: str
    envname: str
    pyversion: str | None
    setup: tuple[CommandRun, ...]
    test: tuple[CommandRun, ...]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.host, self.platform, self.envname)

    @property
    def setup_failed(self) -> bool:
        return any(run.failed for run in self.setup)

    @property
    def tests_failed(self) -> bool:
        return any(run.failed for run in self.test)

    @property
    def passed(self) -> bool:
        return bool(self.test) and not (self.setup_failed or self.tests_failed)


def parse_toxresult(body: bytes | str) -> list[EnvResult]:
    """The environments of one tox result, sorted by name.

    :raises BadToxResult: the body is not JSON or lacks ``host``, ``platform`` or ``testenvs``.
    """
    try:
        data = json.loads(body)
        testenvs = data["testenvs"]
        host, platform = str(data["host"]), str(data["platform"])
        return [
            _env_result(host, platform, name, testenvs[name])
            for name in sorted(testenvs)
            if isinstance(testenvs[name], dict)
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadToxResult(str(exc)) from exc


def _env_result(host: str, platform: str, name: str, env: dict) -> EnvResult:
    python = env.get("python")
    version = python.get("version") if isinstance(python, dict) else None
    pyversion = version.split(None, 1)[0] if isinstance(version, str) and version else None
    return EnvResult(
        host, platform, name, pyversion, _runs(env.get("setup")), _runs(env.get("test"))
    )


def _runs(items) -> tuple[CommandRun, ...]:
    runs = []
    for item in items or ():
        command = item.get("command") or []
        text = " ".join(command) if isinstance(command, list) else str(command)
        output = "".join(str(item.get(key) or "") for key in ("output", "err"))
        runs.append(CommandRun(text, _failed(item.get("retcode")), output))
    return tuple(runs)


def _failed(retcode) -> bool:
    # tox 3 wrote return codes as strings, tox 4 as numbers; None means "not run".
    if retcode is None:
        return False
    try:
        return int(retcode) != 0
    except (TypeError, ValueError):
        return True


def newest_first(results: Iterable[list[EnvResult]]) -> Iterator[EnvResult]:
    """Environments of results given newest first; an older run of the same env is skipped."""
    seen: set[tuple[str, str, str]] = set()
    for envs in results:
        for env in envs:
            if env.key not in seen:
                seen.add(env.key)
                yield env


def status_lines(env: EnvResult, *, failures: bool = False) -> list[tuple[bool, str]]:
    """``(ok, text)`` lines for one environment; with ``failures`` the failing output too."""
    prefix = f"{env.host:<{HOST_WIDTH}} {env.platform:<{PLATFORM_WIDTH}} {env.envname:<{ENV_WIDTH}}"
    lines: list[tuple[bool, str]] = []
    if env.setup_failed:
        lines.append((False, f"{prefix} setup failed"))
        if failures:
            lines += _failure_details(env.setup)
    if env.pyversion:
        prefix = f"{prefix} {env.pyversion}"
    if not env.test:
        lines.append((False, f"{prefix} no tests were run"))
    elif env.tests_failed:
        lines.append((False, f"{prefix} tests failed"))
        if failures:
            lines += _failure_details(env.test)
    else:
        lines.append((True, f"{prefix} tests passed"))
    return lines


def _failure_details(runs: tuple[CommandRun, ...]) -> list[tuple[bool, str]]:
    lines: list[tuple[bool, str]] = []
    for run in runs:
        if not run.failed:
            lines.append((True, f"    OK:   {run.command}"))
            continue
        lines.append((False, f"    FAIL: {run.command}"))
        lines += [(False, f"    {line}") for line in run.output.rstrip("\n").split("\n")]
        break
    return lines
