"""pip and uv install through a real ``cellar serve`` mirroring a local upstream."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.upstream.fixtures import pip_env
from tests.upstream.fixtures import run_pip
from tests.upstream.fixtures import run_uv

from cheesecellar.testing import CellarSession
from conftest import clean_environ
from conftest import start_cellar_process

pytestmark = pytest.mark.e2e

WHEEL_2323 = "requests-2.32.3-py3-none-any.whl"
CLOSURE = {
    "requests": "2.32.3",
    "charset_normalizer": "3.3.2",
    "idna": "3.7",
    "urllib3": "2.2.2",
    "certifi": "2024.7.4",
}


@pytest.fixture
def serve(tmp_path):
    """``serve(*args)`` runs ``cellar serve`` on ``tmp_path/server``; stopped afterwards."""
    started = []

    def start(*args: str):
        server = start_cellar_process(tmp_path / "server", tmp_path / "server.log", *args)
        started.append(server)
        return server

    yield start
    for server in started:
        assert server.stop() == 0, server.log()


def cellar_init(serverdir: Path, *args: str) -> None:
    command = [sys.executable, "-m", "cheesecellar.cli", "init", "--serverdir", str(serverdir)]
    done = subprocess.run(
        [*command, *args], env=clean_environ(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def pip_install(tmp_path: Path, index_url: str, *requirements: str) -> Path:
    """``pip install --no-cache-dir`` into a new target directory; returns it."""
    target = tmp_path / f"target-{time.monotonic_ns()}"
    args = ["install", "--no-cache-dir", "--target", str(target), "-i", index_url]
    done = run_pip([*args, *requirements], pip_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def installed(target: Path) -> dict[str, str]:
    """``{module: VERSION}`` of the fake packages installed in ``target``."""
    found = {}
    for module in target.iterdir():
        init = module / "__init__.py"
        if module.is_dir() and init.is_file() and "VERSION" in init.read_text():
            found[module.name] = init.read_text().split("'")[1]
    return found


def stored_wheel(serverdir: Path, dist, index: str = "root/pypi") -> Path:
    """Where the seed says the file lives, once it is there (files reach the disk
    shortly after their commit)."""
    sha256 = dist.sha256
    path = serverdir / "+files" / index / "+f" / sha256[:3] / sha256[3:16] / dist.filename
    deadline = time.monotonic() + 10
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    return path


def file_of(upstream, filename: str):
    return next(dist for dist in upstream.catalog.files() if dist.filename == filename)


def test_the_seed_install_is_cached_and_works_without_upstream(upstream, serve, tmp_path):
    serverdir = tmp_path / "server"
    cellar_init(serverdir, "--mirror-url", upstream.index_url)
    server = serve("--request-timeout", "2")
    index_url = f"{server.url}/root/pypi/+simple/"
    assert installed(pip_install(tmp_path, index_url, "requests==2.32.3")) == CLOSURE
    wheel = file_of(upstream, WHEEL_2323)
    path = stored_wheel(serverdir, wheel)
    assert path.read_bytes() == wheel.read()
    assert path.parent.parent.name == wheel.sha256[:3]
    assert len(path.parent.name) == 13
    wheels = [record.path for record in upstream.matching("/files/")]
    assert len([path for path in wheels if path.endswith(".whl")]) == len(CLOSURE)
    upstream.stop()
    assert installed(pip_install(tmp_path, index_url, "requests==2.32.3")) == CLOSURE


def test_a_user_index_with_bases_root_pypi_installs_mirror_packages(upstream, serve, tmp_path):
    upstream.catalog.add("mirrored-tool", "1.0", requires=["idna>=3"])
    server = serve("--mirror-url", upstream.index_url)
    with CellarSession(server.url) as session:
        session.login("root", "")
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
        session.login("alice", "alicepw")
        session.put("/alice/dev", json={"bases": "root/pypi"}).raise_for_status()
    target = pip_install(tmp_path, f"{server.url}/alice/dev/+simple/", "mirrored-tool")
    assert installed(target) == {"mirrored_tool": "1.0", "idna": "3.7"}
    tool = next(dist for dist in upstream.catalog.files() if dist.project == "mirrored-tool")
    assert stored_wheel(tmp_path / "server", tool).read_bytes() == tool.read()


@pytest.mark.parametrize("mode", ["json", "html"])
def test_uv_installs_through_the_mirror(make_upstream, serve, tmp_path, mode):
    upstream = make_upstream(mode=mode)
    server = serve("--mirror-url", upstream.index_url)
    target = tmp_path / "target"
    args = ["pip", "install", "--no-cache", "--target", str(target)]
    args += ["--index-url", f"{server.url}/root/pypi/+simple/", "requests==2.32.3"]
    done = run_uv(args, pip_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert installed(target) == CLOSURE
    wheel = file_of(upstream, WHEEL_2323)
    assert hashlib.sha256(stored_wheel(tmp_path / "server", wheel).read_bytes()).hexdigest() == (
        wheel.sha256
    )
