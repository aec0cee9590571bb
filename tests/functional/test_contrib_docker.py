"""contrib/docker: the compose file's consistency, and its entrypoints run without docker."""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from cheesecellar.cli import main as cellar_main
from cheesecellar.testing import CellarSession

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "contrib" / "docker"
#: The seed's deployment: the primary on 3141, the replica on 3142, both listening on 3141.
SEED_PORTS = {"cellar-primary": "3141:3141", "cellar-replica": "3142:3141"}
CONTAINER_PORT = 3141
DOCKERFILES = {"cellar-primary": "primary.dockerfile", "cellar-replica": "replica.dockerfile"}
START_TIMEOUT = 60
STOP_TIMEOUT = 40
#: Seconds a replica may take to show a change made on its primary.
REPLICATION_TIMEOUT = 30
JSON = {"Accept": "application/json", "Content-Type": "application/json"}


# --- reading the deployment files -----------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER_DIR / "docker-compose.yml").read_text())


def interpolate(value: str) -> str:
    """Expand compose's ``${NAME:-default}`` to its default: the deployment as shipped."""
    expanded = re.sub(r"\$\{[A-Za-z0-9_]+:-([^}]*)\}", r"\1", value)
    assert "${" not in expanded, f"{value!r} has a variable without a default"
    return expanded


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """A Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    found, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        pending += " " + line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        found.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return found


def arguments_of(dockerfile: Path, keyword: str) -> list[str]:
    return [args for key, args in instructions(dockerfile) if key == keyword]


def copies(dockerfile: Path) -> dict[str, str]:
    """The files a Dockerfile copies from the build context: {destination: source}."""
    result = {}
    for args in arguments_of(dockerfile, "COPY"):
        words = args.split()
        if any(word.startswith("--from") for word in words):
            continue
        *sources, destination = [word for word in words if not word.startswith("--")]
        for source in sources:
            target = destination
            if destination.endswith("/") or len(sources) > 1:
                target = destination.rstrip("/") + "/" + Path(source).name
            result[target] = source
    return result


def script_default(script: str, name: str) -> str:
    """The default an entrypoint gives to an environment variable (``: "${NAME:=value}"``)."""
    text = (DOCKER_DIR / script).read_text()
    match = re.search(r': "\$\{' + name + r':?=([^}]*)\}"', text)
    assert match, f"{script} gives {name} no default"
    return match.group(1)


def build_context(service: dict) -> Path:
    return (DOCKER_DIR / service["build"]["context"]).resolve()


def dockerfile_of(service: dict) -> Path:
    return build_context(service) / service["build"]["dockerfile"]


# --- the compose file and the Dockerfiles agree ---------------------------------------------


def test_each_service_builds_from_its_dockerfile(compose):
    assert set(compose["services"]) == set(DOCKERFILES)
    for name, service in compose["services"].items():
        assert build_context(service) == REPO
        assert dockerfile_of(service) == DOCKER_DIR / DOCKERFILES[name]
        assert service["restart"] in ("always", "unless-stopped")


@pytest.mark.parametrize("dockerfile", sorted(DOCKERFILES.values()))
def test_dockerfile_copies_executable_entrypoints_and_declares_the_server(dockerfile):
    path = DOCKER_DIR / dockerfile
    copied = copies(path)
    for source in copied.values():
        assert (REPO / source).exists(), f"{dockerfile} copies {source}, which is missing"
    [entrypoint] = [json.loads(args) for args in arguments_of(path, "ENTRYPOINT")]
    assert entrypoint[0] in copied
    for destination, source in copied.items():
        if destination.endswith(".sh"):
            script = REPO / source
            assert os.access(script, os.X_OK), f"{source} is not executable"
            assert script.read_text().startswith("#!/bin/sh\n")
            assert "\nset -eu\n" in script.read_text()
    # replica_entrypoint.sh runs the entrypoint.sh beside it.
    directories = {Path(dest).parent for dest in copied if dest.endswith(".sh")}
    assert len(directories) == 1
    assert arguments_of(path, "FROM")[-1] == "python:3.11-slim"
    assert arguments_of(path, "EXPOSE") == [str(CONTAINER_PORT)]
    assert arguments_of(path, "VOLUME") == ["/data"]
    [healthcheck] = arguments_of(path, "HEALTHCHECK")
    command = json.loads(healthcheck.partition(" CMD ")[2])
    assert command[-1] in copied
    assert copied[command[-1]] == "contrib/docker/healthcheck.py"


def test_entrypoint_defaults_are_the_images_settings():
    env_line = arguments_of(DOCKER_DIR / "primary.dockerfile", "ENV")[0]
    image_env = dict(word.split("=", 1) for word in env_line.split())
    assert image_env["CELLAR_SERVERDIR"] == script_default("entrypoint.sh", "CELLAR_SERVERDIR")
    assert image_env["CELLAR_PORT"] == script_default("entrypoint.sh", "CELLAR_PORT")
    assert image_env["CELLAR_PORT"] == str(CONTAINER_PORT)
    assert image_env["CELLAR_USER"] == script_default("entrypoint.sh", "CELLAR_USER")
    run_dir = str(Path(script_default("entrypoint.sh", "CELLAR_SECRET_COPY")).parent)
    assert run_dir in (DOCKER_DIR / "primary.dockerfile").read_text()


def test_ports_are_the_seeds(compose):
    for name, service in compose["services"].items():
        assert [interpolate(port) for port in service["ports"]] == [SEED_PORTS[name]]


def test_volumes_networks_and_the_secret_are_declared_and_used(compose):
    # Compose mounts a secret NAME read-only at /run/secrets/NAME.
    secret = script_default("entrypoint.sh", "CELLAR_SHARED_SECRET").removeprefix("/run/secrets/")
    for service in compose["services"].values():
        for volume in service["volumes"]:
            name, _, target = volume.partition(":")
            assert name in compose["volumes"]
            assert target == script_default("entrypoint.sh", "CELLAR_SERVERDIR")
        assert set(service["networks"]) <= set(compose["networks"])
        assert service["secrets"] == [secret]
    assert compose["secrets"][secret]["file"] == "./cellar-secret"
    assert "cellar-secret" in (DOCKER_DIR / ".gitignore").read_text().split()


def test_replica_follows_the_primary_by_service_name_once_it_is_healthy(compose):
    replica = compose["services"]["cellar-replica"]
    url = urlsplit(replica["environment"]["CELLAR_PRIMARY_URL"])
    assert url.hostname in compose["services"]
    primary = compose["services"][url.hostname]
    assert [p.rpartition(":")[2] for p in primary["ports"]] == [str(url.port)]
    assert replica["depends_on"] == {url.hostname: {"condition": "service_healthy"}}
    assert arguments_of(dockerfile_of(primary), "HEALTHCHECK")
    assert script_default("entrypoint.sh", "CELLAR_PRIMARY_URL") == url.geturl()


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Whether docker leaves ``path`` out of the context (last matching pattern wins)."""
    parts = path.split("/")
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = glob_regex(pattern.lstrip("!"))
        if any(regex.fullmatch("/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negated
    return excluded


def glob_regex(pattern: str) -> re.Pattern:
    out = ""
    for segment in pattern.strip("/").split("/"):
        if segment == "**":
            out += "(?:[^/]+/)*"
            continue
        out += "".join({"*": "[^/]*", "?": "[^/]"}.get(c) or re.escape(c) for c in segment)
        out += "/"
    return re.compile(out.removesuffix("/"))


def test_build_context_sends_the_sources_and_never_the_secret():
    ignore_files = [DOCKER_DIR / (name + ".dockerignore") for name in DOCKERFILES.values()]
    texts = {path.read_text() for path in ignore_files}
    assert len(texts) == 1, "the primary and replica ignore files differ"
    patterns = [
        line.strip() for line in texts.pop().splitlines() if line.strip() and line[0] != "#"
    ]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    needed = ["pyproject.toml", project["project"]["readme"]]
    where = project["tool"]["setuptools"]["packages"]["find"]["where"]
    needed += [f"{folder}/cheesecellar/__init__.py" for folder in where]
    for dockerfile in DOCKERFILES.values():
        needed += list(copies(DOCKER_DIR / dockerfile).values())
    for path in needed:
        assert not dockerignore_excludes(patterns, path), path
    for path in (
        "contrib/docker/cellar-secret",
        "contrib/docker/root-password",
        ".git/config",
        ".venv/bin/python",
        "tests/bench/results/run.json",
        "build/lib/cheesecellar/app.py",
        "core/cheesecellar/__pycache__/app.cpython-311.pyc",
    ):
        assert dockerignore_excludes(patterns, path), path


# --- the entrypoints, run without docker ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_secret(path: Path, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cellar_main(["gen-secret", "--secretfile", str(path)]) == 0
    path.chmod(mode)
    return path


def node_env(nodedir: Path, secret: Path, **extra: str) -> dict[str, str]:
    """The environment a container would give the entrypoint, with paths under ``nodedir``.

    The real ``cellar`` of this Python comes first on PATH; the server listens on a free
    port of 127.0.0.1 and never creates root/pypi, so nothing talks to the internet.
    """
    prefixes = ("CELLAR_", "DEVPI_", "PIP_", "UV_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    assert shutil.which("cellar", path=env["PATH"]), "no cellar command beside this Python"
    env.update(
        CELLAR_SERVERDIR=str(nodedir / "data"),
        CELLAR_HOST="127.0.0.1",
        CELLAR_PORT=str(free_port()),
        CELLAR_SHARED_SECRET=str(secret),
        CELLAR_SECRET_COPY=str(nodedir / "run" / "secret"),
        CELLAR_USER=pwd.getpwuid(os.getuid()).pw_name,
        CELLAR_NO_ROOT_PYPI="1",
    )
    env.update(extra)
    return env


@dataclasses.dataclass
class Node:
    """An entrypoint script running as a container's main process."""

    process: subprocess.Popen
    env: dict[str, str]
    logfile: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['CELLAR_PORT']}"

    @property
    def serverdir(self) -> Path:
        return Path(self.env["CELLAR_SERVERDIR"])

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")

    def nodeinfo(self) -> dict:
        return json.loads((self.serverdir / ".nodeinfo").read_text())

    def stop(self) -> int:
        """SIGTERM, as ``docker stop`` sends to the container's main process."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start_node(script: str, env: dict[str, str], logfile: Path) -> Node:
    """Run ``script`` and wait until its server answers ``/+api``."""
    with logfile.open("wb") as out:
        process = subprocess.Popen(
            [str(DOCKER_DIR / script)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    node = Node(process, env, logfile)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{script} exited with {process.returncode}:\n{node.log()}")
        try:
            if requests.get(node.url + "/+api", timeout=5).status_code == 200:
                return node
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    node.stop()
    pytest.fail(f"{script} did not answer within {START_TIMEOUT} s:\n{node.log()}")


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DOCKER_DIR / "healthcheck.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_primary_entrypoint_initialises_once_and_the_data_survives(tmp_path):
    # A group-readable mount, as a host may give: the server would refuse it, so the
    # entrypoint hands the server a private copy.
    secret = make_secret(tmp_path / "mount" / "cellar-secret", 0o640)
    env = node_env(tmp_path / "primary", secret, CELLAR_ROOT_PASSWORD="first-pw")
    node = start_node("entrypoint.sh", env, tmp_path / "first.log")
    try:
        assert node.nodeinfo()["role"] == "primary"
        copy = Path(env["CELLAR_SECRET_COPY"])
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert copy.read_bytes() == secret.read_bytes()
        session = CellarSession(node.url)
        session.login("root", "first-pw")
        assert session.put("/emilie", json={"password": "emilie-pw"}).status_code == 201
        assert session.get("/+status").json()["result"]["cellar-role"] == "primary"
        assert healthcheck(env).returncode == 0
        uuid = node.nodeinfo()["uuid"]
    finally:
        # The entrypoint exec'd the server, so SIGTERM reached it and it stopped cleanly.
        assert node.stop() == 0, node.log()
    assert "cheesecellar stopped" in node.log()
    assert "initialising" in node.log()
    assert healthcheck(env).returncode == 1

    env["CELLAR_ROOT_PASSWORD"] = "second-pw"
    node = start_node("entrypoint.sh", env, tmp_path / "second.log")
    try:
        assert "initialising" not in node.log()
        assert "initialised already" in node.log()
        assert node.nodeinfo()["uuid"] == uuid
        session = CellarSession(node.url)
        assert session.post("/+login", json={"user": "root", "password": "second-pw"}).ok is False
        session.login("root", "first-pw")
        assert session.get("/emilie").status_code == 200
    finally:
        assert node.stop() == 0, node.log()


def test_replica_entrypoint_initialises_a_replica_of_the_primary(tmp_path):
    secret = make_secret(tmp_path / "mount" / "cellar-secret")
    primary = start_node(
        "entrypoint.sh", node_env(tmp_path / "primary", secret), tmp_path / "primary.log"
    )
    try:
        env = node_env(tmp_path / "replica", secret, CELLAR_PRIMARY_URL=primary.url)
        replica = start_node("replica_entrypoint.sh", env, tmp_path / "replica.log")
        try:
            nodeinfo = replica.nodeinfo()
            assert nodeinfo["role"] == "replica"
            assert nodeinfo["primary-url"] == primary.url
            assert nodeinfo["uuid"] != primary.nodeinfo()["uuid"]
            status = requests.get(replica.url + "/+status", headers={"Accept": "application/json"})
            assert status.json()["result"]["role"] == "REPLICA"
            assert healthcheck(env).returncode == 0
            created = requests.put(primary.url + "/dora", json={"password": "pw"}, headers=JSON)
            assert created.status_code == 201, created.text
            user = wait_for_answer(replica.url + "/dora", REPLICATION_TIMEOUT)
            assert user.json()["result"]["username"] == "dora"
        finally:
            assert replica.stop() == 0, replica.log()
    finally:
        assert primary.stop() == 0, primary.log()


def wait_for_answer(url: str, timeout: float) -> requests.Response:
    """Poll ``url`` until it answers 200 (a replica that has replicated it)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = requests.get(url, headers={"Accept": "application/json"}, timeout=10)
        if reply.status_code == 200:
            return reply
        if time.monotonic() > deadline:
            pytest.fail(f"{url} still answers {reply.status_code} after {timeout} s")
        time.sleep(0.1)


def run_entrypoint(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(DOCKER_DIR / script)], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("script", ["entrypoint.sh", "replica_entrypoint.sh"])
def test_entrypoints_refuse_a_secret_others_can_read(tmp_path, script):
    secret = make_secret(tmp_path / "mount" / "cellar-secret", 0o644)
    env = node_env(tmp_path / "node", secret)
    result = run_entrypoint(script, env)
    assert result.returncode == 1
    assert f"secret file {secret} is accessible by others" in result.stderr
    assert "chmod 600" in result.stderr
    assert not Path(env["CELLAR_SERVERDIR"]).exists()
    assert not Path(env["CELLAR_SECRET_COPY"]).exists()


def test_entrypoint_says_how_to_make_a_missing_secret(tmp_path):
    env = node_env(tmp_path / "node", tmp_path / "mount" / "cellar-secret")
    result = run_entrypoint("entrypoint.sh", env)
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert "cellar gen-secret --secretfile" in result.stderr
    assert "openssl rand -base64 32" in result.stderr
    assert not Path(env["CELLAR_SERVERDIR"]).exists()


# --- the secret, made as README.md says ------------------------------------------------------


def test_gen_secret_replaces_an_existing_secret_only_when_forced(tmp_path, capsys):
    secret = make_secret(tmp_path / "cellar-secret")
    first = secret.read_bytes()
    assert cellar_main(["gen-secret", "--secretfile", str(secret)]) == 0
    assert "--force" in capsys.readouterr().out
    assert secret.read_bytes() == first
    assert cellar_main(["gen-secret", "--secretfile", str(secret), "--force"]) == 0
    assert secret.read_bytes() != first
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cellar-secret"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_an_openssl_secret_is_accepted(tmp_path, capsys):
    secret = tmp_path / "cellar-secret"
    with secret.open("wb") as out:
        subprocess.run(["openssl", "rand", "-base64", "32"], stdout=out, check=True)
    secret.chmod(0o600)
    assert cellar_main(["gen-secret", "--secretfile", str(secret)]) == 0
    assert "valid secret file" in capsys.readouterr().out
