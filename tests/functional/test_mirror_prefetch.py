"""``cellar mirror prefetch``: pip fills the mirror's cache, which then serves without upstream."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.functional.mirrorkit import start_mirror
from tests.functional.mirrorkit import stored_files
from tests.upstream.fixtures import pip_env
from tests.upstream.fixtures import run_pip

from cheesecellar.cli import main
from cheesecellar_mirror.prefetch import human_size

CELLAR = [sys.executable, "-m", "cheesecellar.cli"]
#: The closure of ``requests==2.32.3`` in the upstream kit's seed catalog.
WHEELS = {
    "requests-2.32.3-py3-none-any.whl",
    "certifi-2024.7.4-py3-none-any.whl",
    "charset_normalizer-3.3.2-py3-none-any.whl",
    "idna-3.7-py3-none-any.whl",
    "urllib3-2.2.2-py3-none-any.whl",
}


@pytest.fixture(autouse=True)
def no_cellar_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("CELLAR_"):
            monkeypatch.delenv(name)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The command's environment: pip reads no machine config and talks only to local servers."""
    return pip_env(tmp_path / "prefetch")


def cellar(env: dict[str, str], *args) -> subprocess.CompletedProcess[str]:
    command = [*CELLAR, *(str(arg) for arg in args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def prefetch_in_process(capsys, *args) -> tuple[int, str, str]:
    """Run ``cellar mirror prefetch ARGS`` in this process (for refusals that never reach pip)."""
    code = main(["mirror", "prefetch", *(str(arg) for arg in args)])
    out, err = capsys.readouterr()
    return code, out, err


def closure_size(upstream) -> str:
    """The size of :data:`WHEELS` as the summary shows it."""
    return human_size(sum(d.size for d in upstream.catalog.files() if d.filename in WHEELS))


def cached_names(serverdir: Path) -> set[str]:
    root = serverdir / "+files" / "root" / "pypi" / "+f"
    return {path.name for path in root.rglob("*") if path.is_file()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def download_offline(url: str, tmp_path: Path) -> set[str]:
    """``pip download requests==2.32.3`` through the server; the names of the files it got."""
    dest = tmp_path / "offline"
    args = ["download", "--no-cache-dir", "-i", f"{url}/root/pypi/+simple/", "-d", str(dest)]
    result = run_pip([*args, "requests==2.32.3"], pip_env(tmp_path / "offline-pip"))
    assert result.returncode == 0, result.stdout + result.stderr
    return {path.name for path in dest.iterdir()}


def test_prefetch_through_a_running_server_fills_the_cache(upstream, make_cellar, tmp_path, env):
    live = start_mirror(make_cellar, upstream)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests==2.32.3\n")
    # The user's pip config sends pip elsewhere: the command must override all of it.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = tmp_path / "pip.conf"
    config.write_text(
        f"[global]\nno-index = true\nextra-index-url = {upstream.index_url}\n"
        f"find-links = {elsewhere}\n"
    )
    env["PIP_CONFIG_FILE"] = str(config)

    result = cellar(env, "mirror", "prefetch", "--url", live.url, "-r", requirements)

    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"prefetched 5 files ({closure_size(upstream)}) into root/pypi at {live.url}"
        in result.stdout
    )
    assert upstream.index_url not in result.stdout
    assert str(elsewhere) not in result.stdout
    assert {path.name for path in stored_files(live)} >= WHEELS
    upstream.stop()
    assert download_offline(live.url, tmp_path) == WHEELS


def test_prefetch_serves_an_idle_serverdir_itself(upstream, make_cellar, tmp_path, env):
    serverdir = tmp_path / "server"
    mirror_url = upstream.index_url.replace("127.0.0.1", "localhost")
    init = cellar(env, "init", "--serverdir", serverdir, "--mirror-url", mirror_url)
    assert init.returncode == 0, init.stderr
    # A proxy for everything but the upstream: the command must not send pip through it.
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    env.update(http_proxy=dead_proxy, HTTP_PROXY=dead_proxy, no_proxy="localhost")
    env["NO_PROXY"] = "localhost"

    result = cellar(env, "mirror", "prefetch", "--serverdir", serverdir, "requests==2.32.3")

    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"prefetched 5 files ({closure_size(upstream)}) into root/pypi at {serverdir}"
        in result.stdout
    )
    assert "EMPTY PASSWORD" not in result.stderr  # the temporary server keeps quiet
    assert cached_names(serverdir) >= WHEELS
    upstream.stop()
    live = make_cellar(serverdir=serverdir)
    assert download_offline(live.url, tmp_path) == WHEELS

    busy = cellar(env, "mirror", "prefetch", "--serverdir", serverdir, "idna")
    assert busy.returncode == 1
    assert f"{serverdir} is in use by a running server" in busy.stderr
    assert "--url http://HOST:PORT" in busy.stderr


def test_prefetch_for_another_python_and_platform(upstream, make_cellar, env):
    live = start_mirror(make_cellar, upstream)
    target = ["--python-version", "3.8", "--platform", "win_amd64", "--abi", "cp38"]

    result = cellar(env, "mirror", "prefetch", "--url", live.url, *target, "requests==2.32.3")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "prefetched 5 files" in result.stdout
    assert {path.name for path in stored_files(live)} & {"requests-2.32.3.tar.gz"} == set()
    # requests 2.32.3 needs Python 3.8: this one runs on 3.11 and would get it.
    too_old = cellar(env, "mirror", "prefetch", "--url", live.url, "--python-version", "3.7",
                     "requests==2.32.3")  # fmt: skip
    assert too_old.returncode == 1
    assert "pip could not resolve or download the requirements" in too_old.stderr


def test_prefetch_refuses_bad_input(upstream, make_cellar, tmp_path, capsys):
    live = start_mirror(make_cellar, upstream)
    with live.session() as session:
        session.login("root", "")
        session.put("/root/alone", json={"type": "stage", "bases": []}).raise_for_status()
    cases = [
        (["--url", live.url], "nothing to prefetch: give requirements or -r FILE"),
        (["--url", live.url, "-r", tmp_path / "missing.txt"], "cannot read requirements file"),
        (["--url", live.url, "--index", "root/nope", "idna"], "has no index root/nope"),
        (["--url", live.url, "--index", "root/alone", "idna"], "has no caching mirror behind it"),
        (["--url", f"http://127.0.0.1:{free_port()}", "idna"], "cannot reach the server"),
        (["--url", f"{live.url}/root/pypi/+simple/", "idna"], "not an index URL"),
        (["--serverdir", tmp_path / "empty", "idna"], "is not initialised; run 'cellar init'"),
    ]
    for args, message in cases:
        code, _out, err = prefetch_in_process(capsys, *args)
        assert (code, message in err) == (1, True), (args, err)
    assert not (tmp_path / "empty").exists()
    assert upstream.count("/files/") == 0
