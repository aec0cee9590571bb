"""pytest fixtures for the local upstream, and pip / uv runs isolated from the machine's config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.upstream.catalog import Catalog
from tests.upstream.catalog import seed_catalog
from tests.upstream.server import UpstreamServer

# Inherited settings that would send pip or uv elsewhere than the servers a test names.
LEAKY_PREFIXES = ("PIP_", "UV_", "PYTHONUSERBASE", "VIRTUAL_ENV")
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY")
LOCAL_HOSTS = "127.0.0.1,localhost"


@pytest.fixture
def make_upstream() -> Iterator[Callable[..., UpstreamServer]]:
    """Factory: ``make_upstream(catalog=None, **options)`` starts an :class:`UpstreamServer`.

    ``catalog`` defaults to :func:`seed_catalog`; options are the server's (``mode``,
    ``files_host``, ``metadata``, ``auth``, ``port``). Every server made is stopped afterwards.
    """
    started: list[UpstreamServer] = []

    def factory(catalog: Catalog | None = None, **options) -> UpstreamServer:
        server = UpstreamServer(catalog if catalog is not None else seed_catalog(), **options)
        started.append(server.start())
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def upstream(make_upstream) -> UpstreamServer:
    """A started upstream serving :func:`seed_catalog` (fake requests 2.32.3 and its deps)."""
    return make_upstream()


def pip_env(tmp_path: Path) -> dict[str, str]:
    """Environment for pip / uv that reads no config and talks only to local servers.

    Home, caches and config live under ``tmp_path``; inherited ``PIP_*`` / ``UV_*`` settings
    and proxies are dropped.
    """
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(LEAKY_PREFIXES) and name not in PROXY_VARIABLES
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CACHE_DIR=str(tmp_path / "pip-cache"),
        UV_NO_CONFIG="1",
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        UV_PYTHON=sys.executable,
        NO_PROXY=LOCAL_HOSTS,
        no_proxy=LOCAL_HOSTS,
    )
    return env


def run_pip(
    args: list[str], env: dict[str, str], *, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pip ARGS`` with this interpreter; output captured as text, never raises."""
    command = [sys.executable, "-m", "pip", *args]
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_uv(
    args: list[str], env: dict[str, str], *, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``uv ARGS`` (e.g. ``["pip", "download", ...]``); output captured as text, never raises."""
    uv = shutil.which("uv") or "uv"
    return subprocess.run(
        [uv, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
