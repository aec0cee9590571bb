"""Upload triggers against a local HTTP receiver and a live server: what arrives, retries,
failures, restarts, pushes and replicas."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from distfiles import sdist
from distfiles import upload
from distfiles import wheel
from replicakit import make_secret
from replicakit import start_primary
from replicakit import start_replica
from replicakit import wait_for

from cheesecellar.auth.secret import read_secret

#: Short retries keep the tests quick; the delays still double.
FAST = {"no_root_pypi": True, "trigger_retry_delay": 0.05, "trigger_timeout": 5.0}
PASSWORD = "alice-pw"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v for k, [v] in parse_qs(self.body.decode(), strict_parsing=True).items()}


class Receiver:
    """An HTTP server that records every POST and answers with scripted statuses (201 once
    the script is used up); a scripted ``("sleep", seconds)`` answers late."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: collections.deque = collections.deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.record(Received(self.path, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def answer(self, *statuses) -> None:
        self.script.extend(statuses)

    def record(self, received: Received) -> int:
        with self._lock:
            self.received.append(received)
            step = self.script.popleft() if self.script else 201
        if isinstance(step, tuple):  # ("sleep", seconds): answer 201, late
            time.sleep(step[1])
            return 201
        return step

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        wait_for(lambda: len(self.received) >= count, timeout, f"{count} requests")
        return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def start(make_cellar, **extra):
    """A server on a known port (the URLs in triggers name it) with fast retries."""
    return make_cellar(port=free_port(), extra={**FAST, **extra})


def alice_index(server, name: str = "dev", **config):
    """Create alice and ``alice/NAME`` with ``config``; return a session logged in as alice."""
    session = server.session()
    if session.get("/alice").status_code == 404:
        session.put("/alice", json={"password": PASSWORD}).raise_for_status()
    session.login("alice", PASSWORD)
    session.put(f"/alice/{name}", json=config).raise_for_status()
    return session


def attempts(session, index: str = "alice/dev", count: int = 1) -> list[dict]:
    """The delivery log of ``index``, oldest first, once it holds ``count`` attempts."""

    def found():
        entries = session.get(f"/{index}/+triggers").json()["result"]["deliveries"]
        return entries if len(entries) >= count else None

    return list(reversed(wait_for(found, 30, f"{count} delivery attempts")))


def finished(session, index: str = "alice/dev") -> list[dict]:
    """The delivery log once nothing is pending any more, oldest first."""

    def done():
        result = session.get(f"/{index}/+triggers").json()["result"]
        return result if result["deliveries"] and not result["pending"] else None

    return list(reversed(wait_for(done, 30, "the deliveries to finish")["deliveries"]))


def put(server, dist, index: str = "alice/dev"):
    reply = upload(f"{server.url}/{index}/", dist, auth=("alice", PASSWORD))
    assert reply.status_code == 200, reply.text
    return reply


# --- what arrives ----------------------------------------------------------------------------


def test_an_upload_starts_the_jenkins_job_with_its_parameters(make_cellar, receiver):
    server = start(make_cellar)
    job = receiver.url.replace("http://", "http://cellar-bot:api-token@") + "/job/{pkgname}"
    alice = alice_index(server, uploadtrigger_jenkins=job)
    dist = wheel("Hello_World", "1.0")
    put(server, dist)

    [request] = receiver.wait_for(1)
    assert request.path == "/job/Hello_World/buildWithParameters"
    assert request.headers["Authorization"] == "Basic Y2VsbGFyLWJvdDphcGktdG9rZW4="
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {
        "CELLAR_PROJECT": "Hello_World",
        "CELLAR_VERSION": "1.0",
        "CELLAR_INDEX_URL": f"{server.url}/alice/dev",
        "CELLAR_TEST_COMMAND": "cellar test --index alice/dev Hello_World==1.0",
        "CELLAR_FILES": dist.filename,
    }
    [attempt] = finished(alice)
    assert (attempt["outcome"], attempt["status"], attempt["attempt"]) == ("delivered", 201, 1)
    assert attempt["url"] == receiver.url.replace("http://", "http://cellar-bot:****@") + (
        "/job/{pkgname}"
    )
    assert "api-token" not in json.dumps(alice.get("/alice/dev/+triggers").json())
    assert not list((server.serverdir / ".triggers" / "pending").iterdir())


def test_a_webhook_gets_a_signed_json_body(make_cellar, receiver):
    server = start(make_cellar)
    alice = alice_index(server, webhook_urls=f"{receiver.url}/hook")
    dist = sdist("hello", "2.0")
    put(server, dist)

    [request] = receiver.wait_for(1)
    secret = read_secret(server.serverdir / ".webhook-secret")
    expected = "sha256=" + hmac.new(secret, request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Cellar-Signature-256"], expected)
    body = json.loads(request.body)
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Cellar-Event"] == "upload"
    assert request.headers["X-Cellar-Delivery"] == body["delivery"]
    assert request.headers["User-Agent"].startswith("cheesecellar/")
    status = server.session().get("/+status").json()["result"]
    assert body["server"] == {"uuid": status["uuid"], "url": server.url}
    assert body["serial"] == server.storage.last_serial()
    assert (body["event"], body["index"], body["project"], body["version"]) == (
        "upload", "alice/dev", "hello", "2.0",
    )  # fmt: skip
    assert body["index_url"] == f"{server.url}/alice/dev"
    [file] = body["files"]
    assert file["filename"] == dist.filename
    assert (file["sha256"], file["size"], file["type"]) == (dist.sha256, dist.size, "releasefile")
    assert requests.get(file["url"], timeout=30).content == dist.content
    assert finished(alice)[0]["outcome"] == "delivered"


def test_a_push_triggers_the_target_once_for_all_its_files(make_cellar, receiver):
    server = start(make_cellar)
    alice_index(server, "dev")
    alice = alice_index(server, "prod", webhook_urls=[f"{receiver.url}/prod"])
    files = [wheel("pushed", "1.0"), sdist("pushed", "1.0")]
    for dist in files:
        put(server, dist)
    push = {"name": "pushed", "version": "1.0", "targetindex": "alice/prod"}
    reply = alice.request("PUSH", "/alice/dev", json=push)
    assert reply.status_code == 200, reply.text

    [request] = receiver.wait_for(1)
    body = json.loads(request.body)
    assert body["index"] == "alice/prod"
    assert sorted(f["filename"] for f in body["files"]) == sorted(d.filename for d in files)
    assert len(finished(alice, "alice/prod")) == 1
    assert receiver.received == [request]  # the uploads to alice/dev triggered nothing


# --- retries and failures ----------------------------------------------------------------------


def test_server_errors_are_retried_until_delivered(make_cellar, receiver):
    server = start(make_cellar)
    receiver.answer(500, 503)
    alice = alice_index(server, uploadtrigger_jenkins=f"{receiver.url}/job/retried")
    put(server, wheel("retried", "1.0"))

    log = finished(alice)
    assert [(e["attempt"], e["outcome"], e["status"]) for e in log] == [
        (1, "retry", 500),
        (2, "retry", 503),
        (3, "delivered", 201),
    ]
    assert log[0]["next_attempt"] is not None
    assert len({e["delivery"] for e in log}) == 1
    assert len(receiver.received) == 3
    assert receiver.received[0].body == receiver.received[2].body
    metrics = {m[0]: m[2] for m in alice.get("/+status").json()["result"]["metrics"]}
    assert metrics["cellar_triggers_retried"] == 2
    assert metrics["cellar_triggers_delivered"] == 1
    assert metrics["cellar_triggers_pending"] == 0


def test_a_slow_receiver_times_out_and_is_tried_again(make_cellar, receiver):
    server = start(make_cellar, trigger_timeout=2.0)
    receiver.answer(("sleep", 6))
    alice = alice_index(server, webhook_urls=[f"{receiver.url}/slow"])
    put(server, wheel("slow", "1.0"))

    log = finished(alice)
    outcomes = [(e["outcome"], e["error"]) for e in log]
    assert outcomes == [("retry", "timed out"), ("delivered", None)]


def test_a_receiver_that_is_down_never_fails_the_upload(make_cellar):
    server = start(make_cellar, trigger_retries=2)
    alice = alice_index(server, uploadtrigger_jenkins=f"http://127.0.0.1:{free_port()}/job/x")
    for version in ("1.0", "1.1"):
        reply = put(server, wheel("down", version))
        assert reply.status_code == 200

    log = attempts(alice, count=6)
    assert [e["outcome"] for e in log if e["version"] == "1.0"] == ["retry", "retry", "failed"]
    assert all(e["status"] is None and "connection failed" in e["error"] for e in log)
    status = alice.get("/+status").json()["result"]
    metrics = {m[0]: m[2] for m in status["metrics"]}
    assert metrics["cellar_triggers_failed"] == 2
    [warning] = [m for m in status["messages"] if "upload triggers" in m["msg"]]
    assert warning["status"] == "warn"
    assert "the last 6 delivery attempts failed" in warning["msg"]


def test_a_client_error_is_not_retried(make_cellar, receiver):
    server = start(make_cellar)
    receiver.answer(404)
    alice = alice_index(server, uploadtrigger_jenkins=f"{receiver.url}/job/{{pkgname}}")
    put(server, wheel("missing-job", "1.0"))

    [attempt] = finished(alice)
    assert (attempt["outcome"], attempt["status"], attempt["attempt"]) == ("failed", 404, 1)
    assert attempt["error"].startswith("HTTP 404")
    assert len(receiver.received) == 1


# --- restarts and replicas -------------------------------------------------------------------


def test_a_pending_delivery_is_sent_after_a_restart(make_cellar, receiver, tmp_path):
    serverdir, port = tmp_path / "server", free_port()
    extra = {**FAST, "trigger_retry_delay": 3600.0}
    first = make_cellar(serverdir=serverdir, port=port, extra=extra)
    receiver.answer(503)
    alice = alice_index(first, webhook_urls=[f"{receiver.url}/hook"])
    put(first, wheel("restarted", "1.0"))
    [attempt] = attempts(alice)
    assert attempt["outcome"] == "retry"  # the next attempt would be in an hour
    first.stop()
    assert len(list((serverdir / ".triggers" / "pending").iterdir())) == 1

    second = make_cellar(serverdir=serverdir, port=port, extra=extra)
    alice = second.session()
    alice.login("alice", PASSWORD)
    log = finished(alice)
    assert [(e["attempt"], e["outcome"]) for e in log] == [(1, "retry"), (2, "delivered")]
    first_body, second_body = (json.loads(r.body) for r in receiver.received)
    assert first_body == second_body
    assert not list((serverdir / ".triggers" / "pending").iterdir())


def test_a_replica_sends_nothing(make_cellar, receiver, tmp_path):
    secret = make_secret(tmp_path / "secret")
    primary = start_primary(make_cellar, secret, port=free_port(), extra=FAST)
    replica = start_replica(make_cellar, primary.url, secret, extra=FAST)
    alice = alice_index(primary, webhook_urls=[f"{receiver.url}/hook"])
    put(primary, wheel("replicated", "1.0"))
    [request] = receiver.wait_for(1)
    serial = json.loads(request.body)["serial"]

    events = replica.running.registry.cellar_events
    wait_for(lambda: events.handled >= serial, 30, "the replica to handle the upload")
    assert not (replica.serverdir / ".triggers").exists()  # it queued nothing
    assert finished(alice)[0]["outcome"] == "delivered"
    assert len(receiver.received) == 1
