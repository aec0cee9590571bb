"""``cellar serve`` as a process: first start, restart, clean stop on signals, drain."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import waitress

from cheesecellar.config import settings_for_tests
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.server import run_until
from cheesecellar.server import start
from cheesecellar.serverdir import NODEINFO

JSON = {"Accept": "application/json"}
SERVE = [sys.executable, "-m", "cheesecellar.cli", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CELLAR_")}


@dataclasses.dataclass
class ServeProcess:
    url: str
    process: subprocess.Popen
    logfile: Path

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def start_serve(tmp_path: Path, *args: str) -> ServeProcess:
    """Start ``cellar serve`` on ``tmp_path/server`` and wait until ``/+api`` answers."""
    port = free_port()
    logfile = tmp_path / "serve.log"
    command = [*SERVE, "--serverdir", str(tmp_path / "server"), "--host", "127.0.0.1"]
    with logfile.open("ab") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--offline-mode", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ(),
        )
    server = ServeProcess(f"http://127.0.0.1:{port}", process, logfile)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.get(server.url + "/+api", timeout=2)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"cellar serve did not start:\n{server.log()}")


@pytest.fixture
def serve(tmp_path):
    """Factory: start ``cellar serve`` on ``tmp_path/server``; kill leftovers at the end."""
    started: list[ServeProcess] = []

    def factory(*args: str) -> ServeProcess:
        started.append(start_serve(tmp_path, *args))
        return started[-1]

    yield factory
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def put_json(url: str, body, headers=None) -> requests.Response:
    return requests.put(url, data=json.dumps(body), headers={**JSON, **(headers or {})})


def login(url: str, user: str, password: str) -> dict[str, str]:
    reply = requests.post(url + "/+login", json={"user": user, "password": password}, headers=JSON)
    assert reply.status_code == 200, reply.text
    token = reply.json()["result"]["password"]
    return {"X-Devpi-Auth": base64.b64encode(f"{user}:{token}".encode()).decode()}


def test_first_start_initialises_an_empty_directory(tmp_path, serve):
    server = serve()
    pypi = requests.get(server.url + "/root/pypi", headers=JSON)
    assert pypi.status_code == 200
    assert pypi.json()["result"]["type"] == "mirror"
    login(server.url, "root", "")
    assert server.stop() == 0
    log = server.log()
    assert "root' has an EMPTY PASSWORD" in log
    assert f"serving on {server.url}/" in log
    assert (tmp_path / "server" / NODEINFO).exists()


def test_restart_keeps_identity_users_and_tokens(serve):
    first = serve()
    uuid = requests.get(first.url + "/+api", headers=JSON).headers["X-Devpi-Uuid"]
    assert put_json(first.url + "/alice", {"password": "secret"}).status_code == 201
    auth = login(first.url, "alice", "secret")
    assert first.stop() == 0

    second = serve()
    api = requests.get(second.url + "/+api", headers={**JSON, **auth})
    assert api.headers["X-Devpi-Uuid"] == uuid
    assert api.json()["result"]["authstatus"] == ["ok", "alice", []]
    assert requests.get(second.url + "/alice", headers=JSON).status_code == 200
    assert put_json(second.url + "/alice/dev", {}, auth).status_code == 200
    assert second.stop() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_stops_the_server_cleanly(serve, signum):
    server = serve()
    assert put_json(server.url + "/bob", {"password": "pw"}).status_code == 201
    assert server.stop(signum) == 0
    assert "cheesecellar stopped" in server.log()
    assert "Traceback" not in server.log()

    reopened = serve()
    assert requests.get(reopened.url + "/bob", headers=JSON).status_code == 200
    login(reopened.url, "bob", "pw")
    assert reopened.stop() == 0


def test_replica_without_primary_url_is_refused(tmp_path):
    serverdir = tmp_path / "server"
    done = subprocess.run(
        [*SERVE, "--serverdir", str(serverdir), "--role", "replica"],
        capture_output=True,
        text=True,
        env=environ(),
        timeout=60,
    )
    assert done.returncode == 2
    assert "--role replica needs --primary-url" in done.stderr
    assert not (serverdir / NODEINFO).exists()


def test_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*SERVE, "--serverdir", str(tmp_path / "server"), "--port", str(port)],
            capture_output=True,
            text=True,
            env=environ(),
            timeout=60,
        )
    assert done.returncode == 2
    assert f"cellar: error: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_in_flight_request_finishes_during_shutdown(tmp_path):
    running = start(settings_for_tests(tmp_path), make_plugin_manager(entry_points=False))
    stopping = threading.Event()

    def stop_while_handling(environ, start_response):
        # The stop signal arrives while this request is being handled.
        stopping.set()
        time.sleep(1)
        return running.app(environ, start_response)

    server = waitress.create_server(stop_while_handling, host="127.0.0.1", port=0, threads=2)
    url = f"http://127.0.0.1:{server.effective_port}"
    loop = threading.Thread(target=run_until, args=(server, stopping, 10))
    loop.start()
    try:
        reply = requests.get(url + "/+api", headers=JSON, timeout=30)
    finally:
        loop.join(30)
        running.close()
    assert reply.status_code == 200
    assert reply.json()["type"] == "apiconfig"
    assert not loop.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/+api", timeout=5)
