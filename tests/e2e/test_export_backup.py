"""A backup of a running ``cellar serve`` with ``cellar export``, restored with ``cellar import``:
pip installs from the restored server, offline, what it installed from the original."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from tests.functional.distfiles import sdist
from tests.functional.distfiles import upload
from tests.functional.distfiles import wheel
from tests.upstream.fixtures import pip_env
from tests.upstream.fixtures import run_pip

from cheesecellar.testing import CellarSession
from conftest import clean_environ
from conftest import start_cellar_process

pytestmark = pytest.mark.e2e

CELLAR = [sys.executable, "-m", "cheesecellar.cli"]
ALICE = ("alice", "alicepw")
#: What ``pip install exported-app`` brings: our package and the fake requests closure.
MODULES = {"exported_app", "requests", "idna", "urllib3", "certifi", "charset_normalizer"}


def cellar(*args) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CELLAR, *map(str, args)], env=clean_environ(), capture_output=True, text=True, timeout=300
    )


def pip_install(tmp_path: Path, index_url: str, name: str) -> set[str]:
    target = tmp_path / f"target-{len(list(tmp_path.glob('target-*')))}"
    args = ["install", "--no-cache-dir", "--target", str(target), "-i", index_url, name]
    done = run_pip(args, pip_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    return {path.name for path in target.iterdir() if (path / "__init__.py").is_file()}


def fill(server) -> None:
    with CellarSession(server.url) as session:
        session.login("root", "")
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
        session.login(*ALICE)
        session.put("/alice/dev", json={"bases": ["root/pypi"]}).raise_for_status()
    app = {"requires_dist": ["requests==2.32.3"]}
    for dist in (wheel("exported-app", "1.0", **app), sdist("exported-app", "1.0", **app)):
        assert upload(f"{server.url}/alice/dev/", dist, ALICE).status_code == 200


def file_hashes(url: str, index: str, project: str) -> dict[str, str]:
    """``{filename: sha256 of the bytes served}`` of a project's files on ``index``."""
    page = f"{url}/{index}/+simple/{project}/"
    reply = requests.get(page, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    found = {}
    for entry in reply.json()["files"]:
        content = requests.get(requests.compat.urljoin(page, entry["url"]), timeout=30).content
        found[entry["filename"]] = hashlib.sha256(content).hexdigest()
    return found


def test_backup_of_a_running_server_restores_offline_installs(upstream, tmp_path):
    source = start_cellar_process(
        tmp_path / "source", tmp_path / "source.log", "--mirror-url", upstream.index_url
    )
    try:
        fill(source)
        assert pip_install(tmp_path, f"{source.url}/alice/dev/+simple/", "exported-app") == MODULES
        before = file_hashes(source.url, "alice/dev", "exported-app")
        done = cellar(
            "export", "--serverdir", source.serverdir, "--include-mirrored-files",
            "--hard-links", tmp_path / "backup",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "exported serial" in done.stdout
    finally:
        assert source.stop() == 0, source.log()
    upstream.stop()
    data = json.loads((tmp_path / "backup" / "cellar-export.json").read_text())
    cached = data["indexes"]["root/pypi"]["mirror"]["records"]
    assert any(key.endswith("requests-2.32.3-py3-none-any.whl") for key in cached)

    done = cellar("import", "--serverdir", tmp_path / "copy", tmp_path / "backup")
    assert done.returncode == 0, done.stderr
    copy = start_cellar_process(tmp_path / "copy", tmp_path / "copy.log", "--offline-mode")
    try:
        assert pip_install(tmp_path, f"{copy.url}/alice/dev/+simple/", "exported-app") == MODULES
        assert file_hashes(copy.url, "alice/dev", "exported-app") == before
        with CellarSession(copy.url) as session:
            assert session.post("/+login", json={"user": "alice", "password": "alicepw"}).ok
    finally:
        assert copy.stop() == 0, copy.log()
