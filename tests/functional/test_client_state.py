"""What the ``cellar`` client remembers (mode 0600) and what ``use --set-cfg`` writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib

import pytest
from clientkit import CellarCLI
from clientkit import ClientEnv
from distfiles import upload
from distfiles import wheel

#: Seconds a pip or uv subprocess may take.
INSTALLER_TIMEOUT = 180
PIP_CONF = "# team settings\n[global]\ntimeout = 120\n\n[install]\nuser = no\n"


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    return CellarCLI(ClientEnv(tmp_path), capsys, monkeypatch)


@pytest.fixture(scope="module")
def cfgsite(server):
    """``cora/dev`` with ``cfgpkg`` 1.0 in it, and an empty ``cora/two``."""
    with server.session() as session:
        session.put("/cora", json={"password": "corapw"}).raise_for_status()
        session.login("cora", "corapw")
        session.put("/cora/dev", json={}).raise_for_status()
        session.put("/cora/two", json={}).raise_for_status()
    reply = upload(f"{server.url}/cora/dev/", wheel("cfgpkg", "1.0"), ("cora", "corapw"))
    assert reply.status_code == 200, reply.text
    return server


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_is_private_and_remembers_the_login(cfgsite, cli):
    cli.ok("use", f"{cfgsite.url}/cora/dev")
    cli.ok("login", "cora", "--password", "corapw")
    assert mode_of(cli.env.state_file) == 0o600
    assert mode_of(cli.env.client_dir) == 0o700
    state = cli.env.state()
    assert state["url"] == cfgsite.url and state["index"] == "cora/dev"
    assert state["username"] == "cora" and state["token"]
    assert "corapw" not in cli.env.state_file.read_text()


def test_unsafe_permissions_are_reported(cfgsite, cli):
    cli.ok("use", cfgsite.url)
    os.chmod(cli.env.state_file, 0o644)
    warned = cli.ok("use").err
    assert "accessible by other users" in warned and "chmod go-rwx" in warned
    cli.ok("use", f"{cfgsite.url}/cora/dev")
    assert mode_of(cli.env.state_file) == 0o600


def test_use_delete_forgets_everything(cfgsite, cli):
    cli.ok("use", f"{cfgsite.url}/cora/dev")
    cli.ok("login", "cora", "--password", "corapw")
    cli.ok("use", "--delete")
    assert cli.env.state() == {"index": None, "token": None, "url": None, "username": None}
    assert "no server selected" in cli.ok("use").out


def test_vanished_index_is_pointed_out(cfgsite, cli):
    with cfgsite.session() as session:
        session.login("cora", "corapw")
        session.put("/cora/brief", json={}).raise_for_status()
        cli.ok("use", f"{cfgsite.url}/cora/brief")
        session.delete("/cora/brief").raise_for_status()
    shown = cli.ok("use")
    assert "the current index cora/brief does not exist (any more)" in shown.err


def test_ignored_config_files_are_pointed_out(cfgsite, cli, monkeypatch):
    cli.ok("use", cfgsite.url)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    warned = cli.ok("use").err
    assert "pip reads no config file" in warned and "uv reads no config file" in warned


def test_garbage_state_is_a_clear_error(cli):
    cli.env.client_dir.mkdir(parents=True)
    cli.env.state_file.write_text("{not json")
    failed = cli.fails("use")
    assert str(cli.env.state_file) in failed.err and "not valid JSON" in failed.err


def test_expired_login_is_dropped(cfgsite, cli):
    cli.ok("use", cfgsite.url)
    cli.env.state_file.write_text(
        cli.env.state_file.read_text().replace('"username": null', '"username": "cora"')
        .replace('"token": null', '"token": "forged"')
    )  # fmt: skip
    shown = cli.ok("use")
    assert "login of 'cora' has expired" in shown.err and "(not logged in)" in shown.out
    assert cli.env.state()["token"] is None


def test_set_cfg_keeps_other_settings(cfgsite, cli):
    cli.env.pip_conf.parent.mkdir(parents=True)
    cli.env.pip_conf.write_text(PIP_CONF)
    cli.env.uv_toml.parent.mkdir(parents=True)
    cli.env.uv_toml.write_text('native-tls = false\n\n[pip]\nindex-url = "http://other/"\n')
    written = cli.ok("use", f"{cfgsite.url}/cora/dev", "--set-cfg").out
    simple = f"{cfgsite.url}/cora/dev/+simple/"
    host = cfgsite.url.split("://", 1)[1]
    assert f"set index-url {simple} and trusted-host {host}" in written
    pip_text = cli.env.pip_conf.read_text()
    assert pip_text.startswith("# team settings\n[global]\ntimeout = 120\n")
    assert f"index-url = {simple}\ntrusted-host = {host}\n" in pip_text
    assert "[install]\nuser = no" in pip_text
    uv = tomllib.loads(cli.env.uv_toml.read_text())
    assert uv["native-tls"] is False and uv["pip"]["index-url"] == "http://other/"
    assert uv["index"] == [{"name": "cellar", "url": simple, "default": True}]

    # again, for another index: the entries are replaced, not repeated
    cli.ok("use", "cora/two", "--set-cfg")
    two = f"{cfgsite.url}/cora/two/+simple/"
    pip_text = cli.env.pip_conf.read_text()
    assert pip_text.count("index-url") == 1 and f"index-url = {two}\n" in pip_text
    assert f"trusted-host = {host}\n" in pip_text
    assert [index["url"] for index in tomllib.loads(cli.env.uv_toml.read_text())["index"]] == [two]
    shown = cli.ok("use").out
    assert f"{cli.env.pip_conf}: {two}" in shown and f"{cli.env.uv_toml}: {two}" in shown


def test_set_cfg_leaves_a_foreign_default_uv_index_alone(cfgsite, cli):
    cli.env.uv_toml.parent.mkdir(parents=True)
    foreign = '[[index]]\nname = "corp"\nurl = "http://corp/simple"\ndefault = true\n'
    cli.env.uv_toml.write_text(foreign)
    failed = cli.fails("use", f"{cfgsite.url}/cora/dev", "--set-cfg")
    assert "already has a default index ('corp')" in failed.err
    assert cli.env.uv_toml.read_text() == foreign
    assert not cli.env.pip_conf.exists()  # neither file is written when one cannot be


def installer_env(env: ClientEnv) -> dict[str, str]:
    """Only the config files --set-cfg wrote steer pip and uv."""
    extra = {
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
        "UV_CACHE_DIR": str(env.home / "uv-cache"),
    }
    return {**env.environ(), **extra}


@pytest.mark.e2e
def test_pip_and_uv_use_the_index_set_by_set_cfg(cfgsite, cli, tmp_path):
    cli.ok("use", f"{cfgsite.url}/cora/dev", "--set-cfg")
    env = installer_env(cli.env)
    listed = run([sys.executable, "-m", "pip", "config", "list"], env)
    assert f"global.index-url='{cfgsite.url}/cora/dev/+simple/'" in listed
    downloads = tmp_path / "downloads"
    run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(downloads), "cfgpkg"], env)
    assert [p.name for p in downloads.iterdir()] == ["cfgpkg-1.0-py3-none-any.whl"]
    compiled = run(["uv", "pip", "compile", "-", "--no-header", "--quiet"], env, stdin="cfgpkg\n")
    assert "cfgpkg==1.0" in compiled


def run(argv: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        argv, env=env, input=stdin, capture_output=True, text=True,
        timeout=INSTALLER_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
