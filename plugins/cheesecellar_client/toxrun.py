"""Running tox on a downloaded release: unpack the sdist, find its tox config, run tox."""

from __future__ import annotations

import configparser
import dataclasses
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

from cheesecellar_client.http import ClientError
from cheesecellar_client.output import out


@dataclasses.dataclass(frozen=True)
class ToxRun:
    """One tox invocation: where, what to install, which config and what to pass on."""

    project_dir: Path
    installpkg: Path
    config: Path
    result_json: Path
    index_url: str
    envs: str | None = None
    extra_args: tuple[str, ...] = ()


def unpack_sdist(archive: Path, dest: Path) -> Path:
    """Unpack an sdist into ``dest`` and return its project directory.

    :raises ClientError: the archive cannot be read or holds unsafe paths.
    """
    dest.mkdir(parents=True)
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(dest)
        else:
            with tarfile.open(archive, mode="r:*") as tarred:
                # The "data" filter refuses absolute paths, links out of dest and devices.
                tarred.extractall(dest, filter="data")
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise ClientError(f"cannot unpack {archive.name}: {exc}") from None
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return dest


def find_tox_config(project_dir: Path) -> Path | None:
    """The tox configuration of a project, in tox's own order of preference."""
    ini = project_dir / "tox.ini"
    if ini.is_file():
        return ini
    setup_cfg = project_dir / "setup.cfg"
    if setup_cfg.is_file() and _has_ini_section(setup_cfg, "tox:tox"):
        return setup_cfg
    pyproject = project_dir / "pyproject.toml"
    if pyproject.is_file() and "tox" in _toml(pyproject).get("tool", {}):
        return pyproject
    toml = project_dir / "tox.toml"
    return toml if toml.is_file() else None


def _has_ini_section(path: Path, section: str) -> bool:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return False
    return parser.has_section(section)


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def tox_command() -> list[str]:
    """How to start tox: the one installed next to cellar, else the one on PATH."""
    if importlib.util.find_spec("tox") is not None:
        return [sys.executable, "-m", "tox"]
    found = shutil.which("tox")
    if found:
        return [found]
    raise ClientError("tox is not installed; install it with: pip install tox")


def split_tox_args(text: str | None) -> tuple[str, ...]:
    """``--tox-args "..."`` split as a shell would."""
    if not text:
        return ()
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise ClientError(f"--tox-args {text!r}: {exc}") from None


def run_tox(run: ToxRun, *, shown_index_url: str) -> int:
    """Run tox with its output going straight to ours; return tox's exit code.

    :param shown_index_url: the index URL as printed (without credentials).
    """
    tox = tox_command()
    command = [*tox, "-c", str(run.config), "--installpkg", str(run.installpkg)]
    command += ["--result-json", str(run.result_json)]
    if run.envs:
        command += ["-e", run.envs]
    command += run.extra_args
    env = dict(os.environ)
    # pip (and uv under tox-uv) fetch the dependencies from the tested index.
    env["PIP_INDEX_URL"] = run.index_url
    env["UV_DEFAULT_INDEX"] = run.index_url
    out(f"dependencies come from {shown_index_url}")
    out(f"running: {shlex.join(['tox', *command[len(tox) :]])}")
    try:
        done = subprocess.run(command, cwd=run.project_dir, env=env)
    except OSError as exc:
        raise ClientError(f"cannot run tox: {exc}") from None
    return done.returncode
