"""``cellar mirror prefetch``: fill a mirror's cache with a requirement closure, for offline use."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import logging
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import requests
import waitress

from cheesecellar.config import ConfigError
from cheesecellar.config import resolve_settings
from cheesecellar.server import run_until
from cheesecellar.server import start
from cheesecellar_mirror.upstream import mask_url

#: Seconds to wait for the server's answer about the index.
CHECK_TIMEOUT = 30
#: Seconds an in-process server gets to finish its requests when pip is done.
STOP_GRACE = 5
#: Requirement-file lines that send pip to another index, past the server.
OTHER_SOURCE = re.compile(r"^\s*(-i|--index-url|--extra-index-url|-f|--find-links)\b")
DESCRIPTION = """\
Resolve the requirements with pip against a mirror index of the server and download every
file of the closure through it, so that the server caches them. A machine that later has no
internet can then install them from the server. With --url the command talks to a running
server; otherwise it opens the server directory itself (it must not be in use) and serves it
on 127.0.0.1 while pip runs. Downloads go to a temporary directory (see TMPDIR) and are
deleted at the end: the server keeps its own copies.
"""


class PrefetchError(Exception):
    """The prefetch cannot be done; the message tells the user why and what to do."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to resolve and for which target."""

    requirements: tuple[str, ...]
    requirement_files: tuple[Path, ...]
    target: tuple[str, ...]  # pip's --python-version/--platform/--implementation/--abi


@dataclasses.dataclass(frozen=True)
class Summary:
    """What pip downloaded through the server."""

    files: int
    size: int


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar mirror`` and its ``prefetch`` subcommand."""
    mirror = subparsers.add_parser("mirror", help="work with the caching mirror")
    mirror.set_defaults(func=lambda args, options: _usage(mirror))
    commands = mirror.add_subparsers(dest="mirror_command", metavar="SUBCOMMAND")
    parser = commands.add_parser(
        "prefetch",
        help="download requirements through a mirror to fill its cache",
        description=DESCRIPTION,
    )
    parser.add_argument("requirements", nargs="*", metavar="REQUIREMENT", help="e.g. numpy==2.1")
    parser.add_argument(
        "-r", "--requirement", dest="requirement_files", action="append", type=Path, default=[],
        metavar="FILE", help="a requirements file (repeatable)",
    )  # fmt: skip
    parser.add_argument("--index", default="root/pypi", help="index to go through (root/pypi)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", help="URL of a running server, e.g. http://HOST:3141")
    where.add_argument("--serverdir", type=Path, help="server directory (as for 'cellar serve')")
    parser.add_argument("-c", "--configfile", type=Path, help="config file (as for 'cellar serve')")
    target = parser.add_argument_group("target (pip's options of the same names)")
    target.add_argument("--python-version", help="e.g. 3.12 or 312")
    target.add_argument("--platform", action="append", default=[], help="e.g. manylinux2014_x86_64")
    target.add_argument("--implementation", help="e.g. cp or py")
    target.add_argument("--abi", action="append", default=[], help="e.g. cp312")
    parser.set_defaults(func=cmd_prefetch)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def cmd_prefetch(args, options) -> int:
    """Run ``cellar mirror prefetch``; returns the exit code."""
    try:
        plan = make_plan(args)
        if args.url:
            url = server_url(args.url)
            summary, where = prefetch(url, args.index, plan), mask_url(url)
        else:
            settings = local_settings(options["serve"], args)
            with local_server(settings, args.pm) as url:
                summary, where = prefetch(url, args.index, plan), str(settings.serverdir)
    except PrefetchError as exc:
        print(f"cellar mirror prefetch: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cellar mirror prefetch: interrupted", file=sys.stderr)
        return 130
    size = human_size(summary.size)
    print(f"prefetched {summary.files} files ({size}) into {args.index} at {where}")
    return 0


def server_url(url: str) -> str:
    if "/+simple" in url:
        raise PrefetchError(
            "--url takes the server's address (http://HOST:PORT), not an index URL; "
            "name the index with --index"
        )
    return url.rstrip("/")


def make_plan(args) -> Plan:
    """Check the requirements given on the command line."""
    if not args.requirements and not args.requirement_files:
        raise PrefetchError("nothing to prefetch: give requirements or -r FILE")
    for path in args.requirement_files:
        warn_other_sources(path)
    target = []
    for flag, values in (
        ("--python-version", [args.python_version]),
        ("--platform", args.platform),
        ("--implementation", [args.implementation]),
        ("--abi", args.abi),
    ):
        target += [item for value in values if value for item in (flag, value)]
    return Plan(tuple(args.requirements), tuple(args.requirement_files), tuple(target))


def warn_other_sources(path: Path) -> None:
    """Refuse a missing file; warn when it names indexes of its own, which pip would use too."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise PrefetchError(f"cannot read requirements file {path}: {reason}") from None
    for number, line in enumerate(lines, 1):
        if OTHER_SOURCE.match(line):
            print(
                f"cellar mirror prefetch: warning: {path}:{number} names another package "
                "source; files pip finds there are not cached by the server",
                file=sys.stderr,
            )


# --- the server ----------------------------------------------------------------------


def local_settings(options, args):
    """The settings ``cellar serve`` would use, served on 127.0.0.1 and a free port, online."""
    given = {"serverdir": args.serverdir, "configfile": args.configfile}
    namespace = argparse.Namespace(**{k: v for k, v in given.items() if v is not None})
    try:
        settings = resolve_settings(options, namespace)
    except ConfigError as exc:
        raise PrefetchError(str(exc)) from None
    return dataclasses.replace(settings, host="127.0.0.1", port=0, offline_mode=False)


@contextlib.contextmanager
def local_server(settings, pm) -> Iterator[str]:
    """Serve ``settings.serverdir`` from this process while the block runs; yield its URL."""
    if serverdir_in_use(settings):
        raise PrefetchError(
            f"{settings.serverdir} is in use by a running server; "
            "pass that server's address instead: --url http://HOST:PORT"
        )
    with quiet_server_log():
        try:
            running = start(settings, pm, init_if_needed=False)
        except ConfigError as exc:
            raise PrefetchError(str(exc)) from None
        stopping = threading.Event()
        thread = None
        try:
            server = waitress.create_server(
                running.app, host=settings.host, port=0, threads=min(settings.threads, 8)
            )
            thread = threading.Thread(target=run_until, args=(server, stopping, STOP_GRACE))
            thread.start()
            yield f"http://127.0.0.1:{server.effective_port}"
        finally:
            stopping.set()
            if thread is not None:
                thread.join()
            running.close()


@contextlib.contextmanager
def quiet_server_log() -> Iterator[None]:
    """Hide the server's notices for operators (the empty root password banner, shutting
    down): this server lives for one command on 127.0.0.1. ``--debug`` shows them."""
    logger = logging.getLogger("cheesecellar.server")
    level = logger.level
    if not logger.isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def serverdir_in_use(settings) -> bool:
    """Whether another process has the server directory's database open.

    The fs storage keeps its SQLite database in WAL mode, where every open connection holds
    a shared lock; a connection asking for exclusive locking therefore fails at once while
    a server runs. Other storage backends are not probed.
    """
    name, _options = settings.storage_backend
    database = Path(settings.serverdir) / "cellar.sqlite"
    if name != "fs" or not database.exists():
        return False
    conn = sqlite3.connect(database, timeout=0)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()
    return False


def check_index(url: str, index: str) -> None:
    """Make sure the server answers and ``index`` exists and has a caching mirror behind it."""
    seen: set[str] = set()
    pending = [index]
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        config = index_config(url, name)
        if config.get("type") == "mirror" and not config.get("mirror_use_external_urls"):
            return
        pending += [base for base in config.get("bases", ()) if isinstance(base, str)]
    raise PrefetchError(
        f"{index} has no caching mirror behind it (no mirror index among it and its bases, "
        "or the mirror links to upstream files instead of caching them): nothing to prefetch"
    )


def index_config(url: str, index: str) -> dict:
    shown = mask_url(url)
    try:
        with requests.Session() as session:
            session.trust_env = not is_loopback(url)  # no proxy between us and our own server
            reply = session.get(
                f"{url}/{index}", headers={"Accept": "application/json"}, timeout=CHECK_TIMEOUT
            )
    except requests.RequestException as exc:
        raise PrefetchError(
            f"cannot reach the server at {shown}: is it running? ({type(exc).__name__})"
        ) from None
    if reply.status_code == 404:
        raise PrefetchError(f"the server at {shown} has no index {index}")
    if reply.status_code != 200:
        raise PrefetchError(f"the server at {shown} answered {reply.status_code} for {index}")
    try:
        config = reply.json()["result"]
    except (ValueError, KeyError, TypeError):
        config = None
    if not isinstance(config, dict):
        raise PrefetchError(f"{shown} is not a cheesecellar or devpi server (no JSON for {index})")
    return config


# --- pip -------------------------------------------------------------------------------


def prefetch(url: str, index: str, plan: Plan) -> Summary:
    """Download the closure of ``plan`` through ``url/index`` with pip; count the files."""
    check_index(url, index)
    if importlib.util.find_spec("pip") is None:
        raise PrefetchError(f"pip is not installed for {sys.executable}: python -m ensurepip")
    index_url = f"{url}/{index}/+simple/"
    with tempfile.TemporaryDirectory(prefix="cellar-prefetch-") as tmp:
        dest = Path(tmp, "downloads")
        no_links = Path(tmp, "no-find-links")
        no_links.mkdir()
        command = pip_command(index_url, dest, plan)
        code = subprocess.run(command, env=pip_environ(index_url, no_links), check=False).returncode
        if code != 0:
            raise PrefetchError(
                f"pip could not resolve or download the requirements (exit code {code}); "
                "see its messages above"
            )
        files = [path for path in dest.iterdir() if path.is_file()] if dest.exists() else []
        return Summary(len(files), sum(path.stat().st_size for path in files))


def pip_command(index_url: str, dest: Path, plan: Plan) -> list[str]:
    """``pip download`` of the closure through ``index_url`` into ``dest``, past pip's cache."""
    command = [sys.executable, "-m", "pip", "download", "--no-cache-dir"]
    command += ["--disable-pip-version-check", "--index-url", index_url, "--dest", str(dest)]
    if plan.target:
        # pip refuses a foreign target unless it may only pick wheels.
        command += [*plan.target, "--only-binary=:all:"]
    for path in plan.requirement_files:
        command += ["-r", str(path)]
    return command + list(plan.requirements)


def pip_environ(index_url: str, no_links: Path) -> dict[str, str]:
    """The user's environment, with every other package source of their pip config overridden.

    ``pip --isolated`` would not do: it ignores environment variables and the user's config
    (dropping proxy and certificate settings the server may need) but still reads the global
    and site config files, with any extra index they name. Environment variables override
    every config file instead. pip de-duplicates index URLs, so naming the server's index
    as the only extra index drops the configured ones; an empty directory does the same
    for find-links.
    """
    env = dict(os.environ)
    env.update(
        PIP_EXTRA_INDEX_URL=index_url,
        PIP_FIND_LINKS=str(no_links),
        PIP_NO_INDEX="false",
    )
    if is_loopback(index_url):
        # A proxy cannot reach this machine's loopback address (where ``--serverdir`` serves).
        for name in ("no_proxy", "NO_PROXY"):
            env[name] = ",".join(filter(None, [env.get(name), urlsplit(index_url).hostname]))
    return env


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def human_size(size: float) -> str:
    """``1234567`` -> ``1.2 MB``."""
    unit = "bytes"
    for larger in ("kB", "MB", "GB", "TB"):
        if size < 1000:
            break
        size, unit = size / 1000, larger
    return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
