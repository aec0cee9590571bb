"""What a tox result upload must be: bounded UTF-8 JSON shaped like ``tox --result-json``."""

from __future__ import annotations

import json
from typing import Any

from cheesecellar.errors import BadRequest

#: The default of ``--toxresult-max-size``: a generous bound for captured test output.
DEFAULT_MAX_SIZE = 1024 * 1024
MAX_SIZE_SETTING = "toxresult_max_size"
#: How many problems one error message lists.
SHOWN_PROBLEMS = 5


def max_size(request) -> int:
    return request.cellar_settings.plugin(MAX_SIZE_SETTING, DEFAULT_MAX_SIZE)


def read_body(request, limit: int) -> bytes:
    """The request body, refused without reading on when it is larger than ``limit``."""
    length = request.content_length
    if length is not None and length > limit:
        raise BadRequest(_too_large(length, limit))
    raw = request.body_file.read(limit + 1)
    if len(raw) > limit:
        raise BadRequest(_too_large(None, limit))
    return raw


def _too_large(length: int | None, limit: int) -> str:
    size = "more than" if length is None else f"{length} bytes, more than"
    return f"tox result too large: {size} the {limit} bytes this server accepts"


def parse_toxresult(raw: bytes) -> dict[str, Any]:
    """Decode ``raw`` and check its shape; every problem is a 400 that names it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("tox result is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadRequest("tox result is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise BadRequest(f"tox result is not valid JSON: {exc}") from None
    problems = toxresult_problems(data)
    if problems:
        raise BadRequest(f"invalid tox result: {_summary(problems)}")
    return data


def _summary(problems: list[str]) -> str:
    shown = "; ".join(problems[:SHOWN_PROBLEMS])
    more = len(problems) - SHOWN_PROBLEMS
    return shown + (f" (and {more} more)" if more > 0 else "")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def toxresult_problems(data: Any) -> list[str]:
    """What keeps ``data`` from being a tox result that clients can show.

    Required are the fields devpi-client and ``cellar list -t`` read: ``host``,
    ``platform`` and a ``testenvs`` object. Optional fields are checked when present,
    so that a reader never meets a value of the wrong type.
    """
    if not isinstance(data, dict):
        return [f"expected a JSON object, got {_kind(data)}"]
    problems = []
    for key in ("host", "platform"):
        problems += _expect(data, key, str, required=True)
    for key in ("reportversion", "toxversion"):
        problems += _expect(data, key, str)
    problems += _expect(data, "installpkg", dict)
    problems += _expect(data, "testenvs", dict, required=True)
    if isinstance(data.get("testenvs"), dict):
        for envname, env in data["testenvs"].items():
            problems += env_problems(f"testenvs.{envname}", env)
    return problems


def env_problems(where: str, env: Any) -> list[str]:
    if not isinstance(env, dict):
        return [f"'{where}' must be an object, got {_kind(env)}"]
    problems = _expect(env, "python", dict, where=where)
    if isinstance(env.get("python"), dict):
        problems += _expect(env["python"], "version", str, where=f"{where}.python")
    problems += _expect(env, "installpkg", dict, where=where)
    for phase in ("setup", "test"):
        problems += _expect(env, phase, list, where=where)
        commands = env.get(phase)
        for number, command in enumerate(commands if isinstance(commands, list) else ()):
            problems += command_problems(f"{where}.{phase}[{number}]", command)
    return problems


def command_problems(where: str, command: Any) -> list[str]:
    if not isinstance(command, dict):
        return [f"'{where}' must be an object, got {_kind(command)}"]
    problems = []
    if "retcode" not in command:
        problems.append(f"'{where}.retcode' is missing")
    elif not _is_retcode(command["retcode"]):
        problems.append(f"'{where}.retcode' must be an integer, a string or null")
    problems += _expect(command, "output", str, where=where)
    argv = command.get("command", [])
    if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
        problems.append(f"'{where}.command' must be a list of strings")
    return problems


def _is_retcode(value: Any) -> bool:
    # tox 4 writes integers, tox 3 strings, and null means "not run".
    return value is None or isinstance(value, str) or type(value) is int


def _expect(
    data: dict, key: str, kind: type, *, required: bool = False, where: str = ""
) -> list[str]:
    name = f"{where}.{key}" if where else key
    if key not in data:
        return [f"'{name}' is missing"] if required else []
    if not isinstance(data[key], kind):
        return [f"'{name}' must be {_KIND_NAMES[kind]}, got {_kind(data[key])}"]
    return []


_KIND_NAMES = {str: "a string", dict: "an object", list: "a list"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    for kind, name in _KIND_NAMES.items():
        if isinstance(value, kind):
            return name
    return type(value).__name__
