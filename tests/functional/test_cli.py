"""The ``cellar`` command: init, gen-secret, serve's refusals, plugin blocking, --version."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
import time

import pytest
import requests

from cheesecellar import __version__
from cheesecellar.auth.passwords import hash_password
from cheesecellar.cli import main
from cheesecellar.model import users
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.serverdir import NODEINFO
from cheesecellar.serverdir import SERVERVERSION
from cheesecellar.storage import open_storage

CELLAR = [sys.executable, "-m", "cheesecellar.cli"]
JSON = {"Accept": "application/json"}


@pytest.fixture(autouse=True)
def no_cellar_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("CELLAR_"):
            monkeypatch.delenv(name)


@pytest.fixture
def serverdir(tmp_path):
    return tmp_path / "server"


def run_cellar(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``cellar ARGV`` in this process; return the exit code, stdout and stderr."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def login_status(cellar, user: str, password: str) -> int:
    with cellar.session() as session:
        return session.post("/+login", json={"user": user, "password": password}).status_code


def stored_usernames(serverdir) -> list[str]:
    storage = open_storage(make_plugin_manager(entry_points=False), serverdir, ("fs", {}))
    try:
        with storage.transaction() as tx:
            return users.list_usernames(tx)
    finally:
        storage.close()


# --- init ---------------------------------------------------------------------------------


def test_init_creates_identity_root_and_root_pypi(capsys, serverdir, make_cellar):
    code, out, err = run_cellar(capsys, "init", "--serverdir", serverdir)
    assert code == 0
    nodeinfo = json.loads((serverdir / NODEINFO).read_text())
    assert nodeinfo["role"] == "standalone"
    assert nodeinfo["uuid"] in out
    assert (serverdir / SERVERVERSION).read_text().strip() == __version__
    assert "EMPTY PASSWORD" in err
    cellar = make_cellar(serverdir=serverdir)
    with cellar.session() as session:
        pypi = session.get("/root/pypi").json()["result"]
    assert pypi["type"] == "mirror"
    assert pypi["mirror_url"] == "https://pypi.org/simple/"
    assert login_status(cellar, "root", "") == 200


def test_init_without_root_pypi(capsys, serverdir, make_cellar):
    assert run_cellar(capsys, "init", "--serverdir", serverdir, "--no-root-pypi")[0] == 0
    with make_cellar(serverdir=serverdir).session() as session:
        assert session.get("/root/pypi").status_code == 404
        assert session.get("/root").json()["result"]["indexes"] == {}


def test_init_with_root_password(capsys, serverdir, make_cellar):
    code, _, err = run_cellar(capsys, "init", "--serverdir", serverdir, "--root-passwd", "gouda")
    assert code == 0
    assert "EMPTY PASSWORD" not in err
    cellar = make_cellar(serverdir=serverdir)
    assert login_status(cellar, "root", "gouda") == 200
    assert login_status(cellar, "root", "") == 401


def test_init_with_root_password_hash(capsys, serverdir, make_cellar):
    pwhash = hash_password("brie")
    assert (
        run_cellar(capsys, "init", "--serverdir", serverdir, "--root-passwd-hash", pwhash)[0] == 0
    )
    cellar = make_cellar(serverdir=serverdir)
    assert login_status(cellar, "root", "brie") == 200
    assert login_status(cellar, "root", "") == 401


def test_init_refuses_a_hash_that_is_not_argon2(capsys, serverdir):
    code, _, err = run_cellar(capsys, "init", "--serverdir", serverdir, "--root-passwd-hash", "md5")
    assert code == 2
    assert "argon2" in err
    assert not (serverdir / NODEINFO).exists()


def test_init_refuses_both_a_password_and_a_hash(capsys, serverdir):
    argv = ["init", "--serverdir", serverdir, "--root-passwd", "a"]
    code, _, err = run_cellar(capsys, *argv, "--root-passwd-hash", hash_password("b"))
    assert code == 2
    assert "not both" in err
    assert not (serverdir / NODEINFO).exists()


def test_init_twice_is_refused(capsys, serverdir):
    assert run_cellar(capsys, "init", "--serverdir", serverdir)[0] == 0
    uuid = json.loads((serverdir / NODEINFO).read_text())["uuid"]
    code, _, err = run_cellar(capsys, "init", "--serverdir", serverdir)
    assert code == 2
    assert f"cellar: error: server directory {serverdir} is already initialised" in err
    assert json.loads((serverdir / NODEINFO).read_text())["uuid"] == uuid


def test_init_refuses_a_directory_with_other_files(capsys, serverdir):
    serverdir.mkdir()
    (serverdir / "notes.txt").write_text("mine\n")
    code, _, err = run_cellar(capsys, "init", "--serverdir", serverdir)
    assert code == 2
    assert "not empty" in err


def test_init_replica_creates_no_users(capsys, serverdir):
    argv = ["init", "--serverdir", serverdir, "--role", "replica", "--primary-url", "http://x"]
    code, _, err = run_cellar(capsys, *argv)
    assert code == 0
    assert "EMPTY PASSWORD" not in err
    nodeinfo = json.loads((serverdir / NODEINFO).read_text())
    assert (nodeinfo["role"], nodeinfo["primary-url"]) == ("replica", "http://x")
    assert stored_usernames(serverdir) == []


@pytest.mark.timeout(60)  # a refusal that fails would serve forever
def test_serving_a_replica_directory_needs_the_replica_role(capsys, serverdir):
    argv = ["init", "--serverdir", serverdir, "--role", "replica", "--primary-url", "http://x"]
    assert run_cellar(capsys, *argv)[0] == 0
    code, _, err = run_cellar(capsys, "serve", "--serverdir", serverdir, "--port", "0")
    assert code == 2
    assert "--role replica" in err


# --- gen-secret and --secretfile ----------------------------------------------------------


def test_gen_secret_writes_a_private_secret_and_checks_it_again(capsys, tmp_path):
    secretfile = tmp_path / "secret"
    code, out, _ = run_cellar(capsys, "gen-secret", "--secretfile", secretfile)
    assert code == 0
    assert stat.S_IMODE(secretfile.stat().st_mode) == 0o600
    secret = secretfile.read_bytes().strip()
    assert len(secret) >= 32
    code, out, _ = run_cellar(capsys, "gen-secret", "--secretfile", secretfile)
    assert code == 0
    assert "valid secret file" in out
    assert secretfile.read_bytes().strip() == secret


def test_gen_secret_refuses_a_readable_file(capsys, tmp_path):
    secretfile = tmp_path / "secret"
    assert run_cellar(capsys, "gen-secret", "--secretfile", secretfile)[0] == 0
    secretfile.chmod(0o644)
    code, _, err = run_cellar(capsys, "gen-secret", "--secretfile", secretfile)
    assert code == 2
    assert f"chmod 600 {secretfile}" in err


def test_gen_secret_refuses_a_short_secret(capsys, tmp_path):
    secretfile = tmp_path / "secret"
    secretfile.write_text("too-short\n")
    secretfile.chmod(0o600)
    code, _, err = run_cellar(capsys, "gen-secret", "--secretfile", secretfile)
    assert code == 2
    assert "shorter than 32 bytes" in err


@pytest.mark.timeout(60)  # a refusal that fails would serve forever
def test_serve_refuses_a_group_readable_secret_file(capsys, tmp_path, serverdir):
    secretfile = tmp_path / "secret"
    assert run_cellar(capsys, "gen-secret", "--secretfile", secretfile)[0] == 0
    secretfile.chmod(0o640)
    argv = ["serve", "--serverdir", serverdir, "--port", "0", "--secretfile", secretfile]
    code, _, err = run_cellar(capsys, *argv)
    assert code == 2
    assert "accessible by group or others" in err
    assert "chmod 600" in err
    assert not (serverdir / NODEINFO).exists()


@pytest.mark.timeout(60)  # a refusal that fails would serve forever
def test_serve_refuses_a_missing_secret_file(capsys, tmp_path, serverdir):
    argv = ["serve", "--serverdir", serverdir, "--secretfile", tmp_path / "absent"]
    code, _, err = run_cellar(capsys, *argv)
    assert code == 2
    assert "cellar gen-secret" in err


# --- plugins --------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(serverdir, *args: str):
    """Run ``cellar serve`` in a subprocess; yield its URL; stop it with SIGTERM."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [*CELLAR, "serve", "--serverdir", str(serverdir), "--port", str(port), *args]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process)
        yield url
    finally:
        process.terminate()
        assert process.wait(15) == 0


def _wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(requests.ConnectionError):
            requests.get(url + "/+api", timeout=2)
            return
        time.sleep(0.1)
    pytest.fail("cellar serve did not start")


def test_disabled_mirror_plugin(capsys, serverdir):
    argv = ["init", "--serverdir", serverdir, "--disable-plugin", "cheesecellar_mirror"]
    assert run_cellar(capsys, *argv)[0] == 0
    with (
        serving(serverdir, "--disable-plugin", "cheesecellar_mirror") as url,
        requests.Session() as http,
    ):
        http.headers.update(JSON)
        assert http.get(url + "/root/pypi").status_code == 404
        token = http.post(url + "/+login", json={"user": "root", "password": ""}).json()
        http.auth = ("root", token["result"]["password"])
        mirror = http.put(url + "/root/upstream", json={"type": "mirror"})
        assert mirror.status_code == 400
        assert "unknown index type 'mirror'" in mirror.json()["message"]
        assert http.put(url + "/root/dev", json={}).status_code == 200


@pytest.mark.parametrize("name", ["cheesecellar.auth.plugin", "cheesecellar.model.stage"])
def test_core_plugins_cannot_be_disabled(capsys, serverdir, name):
    code, _, err = run_cellar(capsys, "init", "--serverdir", serverdir, "--disable-plugin", name)
    assert code == 2
    assert f"core plugins cannot be disabled: {name}" in err
    assert not serverdir.exists()


def test_core_plugins_cannot_be_disabled_from_the_environment(capsys, serverdir, monkeypatch):
    monkeypatch.setenv("CELLAR_DISABLE_PLUGIN", "cheesecellar_mirror, cheesecellar.auth.plugin")
    code, _, err = run_cellar(capsys, "init", "--serverdir", serverdir)
    assert code == 2
    assert "core plugins cannot be disabled: cheesecellar.auth.plugin" in err


# --- the program itself -------------------------------------------------------------------


def test_version():
    done = subprocess.run([*CELLAR, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"cheesecellar {__version__}"


def test_no_command_prints_help(capsys):
    code, out, _ = run_cellar(capsys)
    assert code == 2
    assert "serve" in out
    assert "gen-secret" in out


def test_bad_config_file_is_a_clear_error(capsys, tmp_path, serverdir):
    configfile = tmp_path / "cellar.toml"
    configfile.write_text("[cellar]\nport = [\n")
    code, _, err = run_cellar(capsys, "init", "--serverdir", serverdir, "-c", configfile)
    assert code == 2
    assert f"cellar: error: config file {configfile} is not valid TOML" in err
