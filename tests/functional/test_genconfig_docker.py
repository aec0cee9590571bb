"""The docker compose files ``cellar gen-config`` writes, and contrib/docker made from them."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests
import yaml
from test_contrib_docker import arguments_of
from test_contrib_docker import copies
from test_contrib_docker import dockerignore_excludes
from test_contrib_docker import interpolate

from cheesecellar.cli import main as cellar_main
from cheesecellar_genconfig.quoting import compose_value

REPO = Path(__file__).resolve().parents[2]
CONTRIB = REPO / "contrib" / "docker"
TEMPLATES = REPO / "plugins" / "cheesecellar_genconfig" / "templates"
#: The seed's deployment: a primary and a replica, published on all addresses, with
#: project pages fresh for 30 s. contrib/docker is this, built from the checkout.
SEED_OPTIONS = (
    *("--role", "primary", "--secretfile", "cellar-secret", "--host", "0.0.0.0"),
    *("--mirror-cache-expiry", "30"),
)
REGENERATE = (
    "contrib/docker differs from what the templates make; if the templates are right, run "
    "from the repository root: cellar gen-config --only docker --from-checkout . "
    "--output contrib --force " + " ".join(SEED_OPTIONS)
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("CELLAR_", "PIP_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def docker_files(capsys, *args: str) -> Path:
    code = cellar_main(["gen-config", "--only", "docker", "--serverdir", "/srv/c", *args])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    return Path("gen-config", "docker").resolve()


def compose_of(directory: Path) -> dict:
    return yaml.safe_load((directory / "docker-compose.yml").read_text())


def image_env(dockerfile: Path) -> dict[str, str]:
    [line] = arguments_of(dockerfile, "ENV")
    return dict(word.split("=", 1) for word in line.split())


def test_contrib_docker_is_the_seed_deployment_built_from_the_checkout(capsys, tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(REPO / "pyproject.toml", checkout)
    code = cellar_main(
        [
            *("gen-config", "--only", "docker", "--from-checkout", str(checkout)),
            *("--output", str(checkout / "contrib"), *SEED_OPTIONS),
        ]
    )
    assert code == 0, capsys.readouterr()
    made = checkout / "contrib" / "docker"
    names = {p.name for p in made.iterdir()}
    assert names == {p.name for p in CONTRIB.iterdir() if p.name != "README.md"}, REGENERATE
    for name in names:
        assert (made / name).read_bytes() == (CONTRIB / name).read_bytes(), f"{name}: {REGENERATE}"
        executable = os.access(made / name, os.X_OK)
        assert executable == os.access(CONTRIB / name, os.X_OK), name


def test_the_scripts_are_the_templates_unchanged():
    """Entrypoints and health check are copied, never templated: no Jinja syntax in them."""
    for name in ("entrypoint.sh", "replica_entrypoint.sh", "healthcheck.py"):
        text = (TEMPLATES / "docker" / f"{name}.jinja2").read_text()
        assert not any(mark in text for mark in ("{{", "{%", "{#")), name


def test_a_standalone_server_is_one_service_without_a_secret(capsys):
    directory = docker_files(capsys, "--host", "0.0.0.0", "--port", "4040")
    compose = compose_of(directory)
    assert list(compose["services"]) == ["cellar"]
    [service] = compose["services"].values()
    assert [interpolate(port) for port in service["ports"]] == ["4040:3141"]
    assert "secrets" not in compose and "secrets" not in service
    assert service["volumes"] == ["cellar_data:/data"]
    assert service["build"] == {
        "context": ".",
        "dockerfile": "cellar.dockerfile",
        "args": {"PIP_INDEX_URL": "${PIP_INDEX_URL:-https://pypi.org/simple}"},
    }
    env = image_env(directory / "cellar.dockerfile")
    assert env["CELLAR_ROLE"] == "standalone"
    assert env["CELLAR_SHARED_SECRET"] == '""'
    assert arguments_of(directory / "cellar.dockerfile", "ENTRYPOINT") == [
        '["/usr/local/bin/entrypoint.sh"]'
    ]


def test_the_primary_and_replica_carry_the_options(capsys):
    directory = docker_files(
        capsys, "--role", "primary", "--secretfile", "/etc/s", "--port", "5000",
        "--mirror-url", "https://pypi.tuna.tsinghua.edu.cn/simple/", "--outside-url",
        "https://pypi.example.com/", "--threads", "100", "--access-log", "/var/log/x.log",
        "--build-index-url", "https://pypi.tuna.tsinghua.edu.cn/simple", "--user", "pkgs",
    )  # fmt: skip
    compose = compose_of(directory)
    primary, replica = compose["services"]["cellar-primary"], compose["services"]["cellar-replica"]
    assert [interpolate(port) for port in primary["ports"]] == ["127.0.0.1:5000:3141"]
    assert [interpolate(port) for port in replica["ports"]] == ["127.0.0.1:5001:3141"]
    env = {name: interpolate(str(value)) for name, value in primary["environment"].items()}
    assert env["CELLAR_MIRROR_URL"] == "https://pypi.tuna.tsinghua.edu.cn/simple/"
    assert env["CELLAR_OUTSIDE_URL"] == "https://pypi.example.com/"
    assert env["CELLAR_THREADS"] == "100"
    assert env["CELLAR_ACCESS_LOG"] == "-"  # the host's path means nothing in a container
    assert env["CELLAR_MIRROR_CACHE_EXPIRY"] == "1800"
    assert "CELLAR_SERVERDIR" not in env and "CELLAR_SECRETFILE" not in env
    replica_env = replica["environment"]
    assert replica_env["CELLAR_PRIMARY_URL"] == "http://cellar-primary:3141"
    assert replica_env["CELLAR_THREADS"] == "100"
    assert "CELLAR_OUTSIDE_URL" not in replica_env and "CELLAR_MIRROR_URL" not in replica_env
    assert replica["depends_on"] == {"cellar-primary": {"condition": "service_healthy"}}
    assert primary["secrets"] == replica["secrets"] == ["cellar-secret"]
    assert compose["secrets"] == {"cellar-secret": {"file": "./cellar-secret"}}
    tuna = "${PIP_INDEX_URL:-https://pypi.tuna.tsinghua.edu.cn/simple}"
    assert primary["build"]["args"]["PIP_INDEX_URL"] == tuna
    dockerfile = directory / "primary.dockerfile"
    assert image_env(dockerfile)["CELLAR_USER"] == "pkgs"
    assert "PIP_INDEX_URL=https://pypi.tuna.tsinghua.edu.cn/simple" in arguments_of(
        dockerfile, "ARG"
    )


def test_a_replica_of_another_host_follows_its_primary_url(capsys):
    directory = docker_files(
        capsys, "--role", "replica", "--primary-url", "https://primary.example/",
        "--secretfile", "/etc/s", "--host", "10.0.0.5",
    )  # fmt: skip
    compose = compose_of(directory)
    assert list(compose["services"]) == ["cellar-replica"]
    service = compose["services"]["cellar-replica"]
    assert service["environment"]["CELLAR_PRIMARY_URL"] == "https://primary.example/"
    assert "depends_on" not in service
    assert [interpolate(port) for port in service["ports"]] == ["10.0.0.5:3141:3141"]
    assert arguments_of(directory / "replica.dockerfile", "ENTRYPOINT") == [
        '["/usr/local/bin/replica_entrypoint.sh"]'
    ]


@pytest.mark.parametrize("role", ["standalone", "primary", "replica"])
def test_each_image_copies_files_that_exist_and_the_build_may_read(capsys, role):
    args = ["--role", role, "--secretfile", "/etc/s", "--primary-url", "http://p:3141"]
    directory = docker_files(capsys, *args)
    patterns = [
        line.strip()
        for line in (directory / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for name, service in compose_of(directory)["services"].items():
        assert service["build"]["context"] == "."
        dockerfile = directory / service["build"]["dockerfile"]
        sources = copies(dockerfile).values()
        assert "wheels" in sources  # the directory a wheel of cheesecellar may be put into
        for source in sources:
            assert (directory / source).exists(), f"{name}: {source}"
            assert not dockerignore_excludes(patterns, source), source
        assert not dockerignore_excludes(patterns, "wheels/cheesecellar-1.0-py3-none-any.whl")
        assert stat.S_IMODE((directory / "entrypoint.sh").stat().st_mode) == 0o755
    for secret in ("cellar-secret", "root-password", ".env"):
        assert dockerignore_excludes(patterns, secret)
        assert secret in (directory / ".gitignore").read_text().split()


def test_compose_values_keep_dollars_and_stay_strings():
    for value in ("a$b", "yes", "1", "null", "x: y # z", "ünï"):
        assert yaml.safe_load(f"key: {compose_value(value)}") == {"key": value.replace("$", "$$")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_standalone_entrypoint_starts_without_a_secret(capsys, tmp_path):
    """The single container, run without docker: the image's ENV and the compose file's
    environment as given, paths and port moved under the test's directory."""
    directory = docker_files(capsys, "--host", "0.0.0.0")
    [service] = compose_of(directory)["services"].values()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELLAR_", "PIP_"))}
    env.update({k: v.strip('"') for k, v in image_env(directory / "cellar.dockerfile").items()})
    env.update({name: interpolate(str(value)) for name, value in service["environment"].items()})
    port = free_port()
    env.update(
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        CELLAR_SERVERDIR=str(tmp_path / "data"),
        CELLAR_HOST="127.0.0.1",
        CELLAR_PORT=str(port),
        CELLAR_SECRET_COPY=str(tmp_path / "run" / "secret"),
        CELLAR_USER=pwd.getpwuid(os.getuid()).pw_name,
        CELLAR_NO_ROOT_PYPI="1",
        CELLAR_ROOT_PASSWORD="pw",
    )
    with (tmp_path / "node.log").open("wb") as log:
        node = subprocess.Popen([str(directory / "entrypoint.sh")], env=env, stdout=log, stderr=log)
    try:
        status = wait_for_status(f"http://127.0.0.1:{port}", node, tmp_path / "node.log")
        assert status["result"]["cellar-role"] == "standalone"
        assert json.loads((tmp_path / "data" / ".nodeinfo").read_text())["role"] == "standalone"
        assert not (tmp_path / "run").exists()  # no secret was asked for or copied
    finally:
        node.send_signal(signal.SIGTERM)
        assert node.wait(40) == 0, (tmp_path / "node.log").read_text()


def wait_for_status(url: str, node: subprocess.Popen, logfile: Path) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert node.poll() is None, logfile.read_text()
        try:
            reply = requests.get(url + "/+status", headers={"Accept": "application/json"})
            if reply.status_code == 200:
                return reply.json()
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    node.kill()
    pytest.fail(f"the entrypoint's server did not answer:\n{logfile.read_text()}")


def test_the_wheel_ships_every_template(tmp_path):
    """gen-config reads its templates as package data, so an installed wheel has them."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for folder in ("core", "plugins", "web"):
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--quiet", "--wheel-dir", str(tmp_path / "dist"), str(source)]
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = (tmp_path / "dist").glob("cheesecellar-*.whl")
    shipped = set(zipfile.ZipFile(built).namelist())
    templates = {
        "cheesecellar_genconfig/templates/" + path.relative_to(TEMPLATES).as_posix()
        for path in TEMPLATES.rglob("*")
        if path.is_file()
    }
    assert templates and templates <= shipped, templates - shipped
