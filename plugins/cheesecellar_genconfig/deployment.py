"""What a generated configuration is made from: the resolved server options, as arguments."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from cheesecellar.config import FIELDS
from cheesecellar.config import ConfigError
from cheesecellar.config import OptionParser
from cheesecellar.config import Settings
from cheesecellar_genconfig.quoting import check_writable

#: Options given first, always, in this order; the rest follow when they differ from
#: their defaults, in the order ``cellar serve --help`` lists them.
LEADING = ("serverdir", "host", "port")
#: Never passed on: the generated files hold the resolved values instead of the file.
NOT_PASSED = ("configfile",)


@dataclasses.dataclass(frozen=True)
class ServerOption:
    """One option of ``cellar serve``: its destination, long flag and how it takes a value.

    ``is_path`` marks options that name files (``type=Path`` or ``metavar="PATH"``): they
    are written as absolute paths, since services start in another directory.
    """

    dest: str
    flag: str
    kind: str  # "switch", "repeat" or "value"
    is_path: bool = False


@dataclasses.dataclass(frozen=True)
class Deployment:
    """The server a configuration is generated for.

    ``passed`` holds the options to pass to ``cellar serve``, as (option, value) pairs with
    values already made absolute (paths) and checked; values are ``True`` for switches and
    lists for repeatable options.
    """

    settings: Settings
    passed: tuple[tuple[ServerOption, Any], ...]
    command: tuple[str, ...]

    @property
    def serverdir(self) -> Path:
        return self.settings.serverdir

    @property
    def role(self) -> str:
        return self.settings.role

    def value(self, dest: str, default: Any = None) -> Any:
        """The passed value of ``dest``, or ``default`` when it keeps its default."""
        for option, value in self.passed:
            if option.dest == dest:
                return value
        return default

    def serve_args(self) -> list[str]:
        """``cellar serve`` arguments for every passed option."""
        return [word for group in self.serve_arg_groups() for word in group]

    def serve_arg_groups(self) -> list[list[str]]:
        """:meth:`serve_args` as one list per option and value, to write one per line."""
        groups = []
        for option, value in self.passed:
            if option.kind == "switch":
                groups.append([option.flag])
            elif option.kind == "repeat":
                groups += [[option.flag, item] for item in value]
            else:
                groups.append([option.flag, str(value)])
        return groups

    def environment(self, *, skip: tuple[str, ...] = ()) -> list[tuple[ServerOption, str, str]]:
        """The passed options as ``CELLAR_<NAME>`` variables, which cellar reads itself:
        (option, variable, value) triples."""
        found = []
        for option, value in self.passed:
            if option.dest in skip:
                continue
            if option.kind == "switch":
                text = "1"
            elif option.kind == "repeat":
                text = ",".join(value)
            else:
                text = str(value)
            found.append((option, "CELLAR_" + option.dest.upper(), text))
        return found


def server_options(parser: argparse.ArgumentParser, declared: OptionParser) -> dict:
    """The options of ``cellar serve`` that ``parser`` shares, by destination."""
    found = {}
    for action in parser._actions:
        if action.dest not in declared.declared or not action.option_strings:
            continue
        flag = max(action.option_strings, key=len)
        if isinstance(action, argparse._StoreTrueAction):
            kind = "switch"
        elif isinstance(action, argparse._AppendAction):
            kind = "repeat"
        else:
            kind = "value"
        is_path = action.type is Path or action.metavar == "PATH"
        found[action.dest] = ServerOption(action.dest, flag, kind, is_path)
    return found


def make_deployment(
    settings: Settings, options: dict[str, ServerOption], declared: OptionParser
) -> Deployment:
    """Check the settings a configuration can be made for; collect what to pass on."""
    if settings.port == 0:
        raise ConfigError("give the server a fixed --port (0 picks a new one at every start)")
    if settings.role != "standalone" and settings.secretfile is None:
        raise ConfigError(
            f"--role {settings.role} needs --secretfile FILE, the secret shared by the primary "
            "and its replicas (make one with 'cellar gen-secret --secretfile FILE')"
        )
    settings = dataclasses.replace(settings, serverdir=_absolute(settings.serverdir))
    check_writable("--serverdir", str(settings.serverdir))
    passed = []
    ordered = [*LEADING, *(dest for dest in options if dest not in LEADING)]
    for dest in ordered:
        if dest in NOT_PASSED or dest not in options:
            continue
        value = _resolved(settings, dest)
        if dest not in LEADING and value == declared.declared[dest].default:
            continue
        value = _normalised(options[dest], value)
        if value in (None, False, []):
            continue
        passed.append((options[dest], value))
    return Deployment(settings, tuple(passed), cellar_command())


def _resolved(settings: Settings, dest: str) -> Any:
    if dest in FIELDS:
        return getattr(settings, dest)
    return settings.plugin(dest)


def _normalised(option: ServerOption, value: Any) -> Any:
    if option.kind == "repeat":
        items = value.split(",") if isinstance(value, str) else list(value or ())
        value = [item.strip() for item in items if item and item.strip()]
        for item in value:
            check_writable(option.flag, item)
        return value
    if option.kind == "switch" or value is None:
        return bool(value) if option.kind == "switch" else None
    if option.is_path and str(value) != "-":
        value = _absolute(Path(value))
    check_writable(option.flag, str(value))
    return value


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path.expanduser()))


def cellar_command() -> tuple[str, ...]:
    """How a service starts the ``cellar`` in use now: its absolute path, else this Python."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "cellar" and argv0.is_file():
        command: tuple[str, ...] = (str(_absolute(argv0)),)
    elif (Path(sys.executable).parent / "cellar").is_file():
        command = (str(Path(sys.executable).parent / "cellar"),)
    else:
        command = (sys.executable, "-m", "cheesecellar.cli")
    for word in command:
        check_writable("the cellar command", word)
    return command
