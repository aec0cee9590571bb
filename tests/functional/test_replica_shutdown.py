"""A primary with a replica's long poll in flight stops at once, not after its grace."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from replicakit import make_secret
from replicakit import start_replica
from replicakit import wait_for

#: Far longer than a stop takes now; before, a poll held the stop up for its whole wait.
STOP_DEADLINE = 5.0
POLL_WAIT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_primary_process(tmp_path, secretfile) -> tuple[subprocess.Popen, str]:
    """``cellar serve --role primary`` (the real serve loop), once ``/+api`` answers."""
    port = free_port()
    command = [sys.executable, "-m", "cheesecellar.cli", "serve"]
    command += ["--serverdir", str(tmp_path / "primary"), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--role", "primary", "--secretfile", str(secretfile)]
    command += ["--no-root-pypi"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELLAR_")}
    log = (tmp_path / "primary.log").open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.get(url + "/+api", timeout=2)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"the primary did not start:\n{(tmp_path / 'primary.log').read_text()}")


def polling(url: str) -> bool:
    reply = requests.get(url + "/+status", headers={"Accept": "application/json"}, timeout=10)
    replicas = reply.json()["result"].get("polling_replicas", {})
    return any(info["is-streaming"] for info in replicas.values())


def test_a_primary_stops_at_once_while_a_replica_polls(make_cellar, tmp_path):
    secretfile = make_secret(tmp_path / "secret")
    process, url = start_primary_process(tmp_path, secretfile)
    try:
        replica = start_replica(
            make_cellar, url, secretfile, extra={"replica_poll_wait": POLL_WAIT}
        )
        wait_for(lambda: polling(url), what="a long poll of the replica on the primary")
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the primary still runs {STOP_DEADLINE} s after SIGTERM")
        assert code == 0
        log = (tmp_path / "primary.log").read_text()
        assert "cheesecellar stopped" in log
        assert "Traceback" not in log
        # The replica goes on serving what it has.
        assert requests.get(replica.url + "/+api", timeout=10).status_code == 200
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
