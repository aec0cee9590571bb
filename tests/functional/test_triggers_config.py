"""The trigger options through the API and the clients: checks, masking, the delivery log's
permissions, status."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
from clientkit import CellarCLI
from clientkit import ClientEnv

JENKINS = "https://cellar-bot:api-token@jenkins.example.com/job/{pkgname}"
MASKED = "https://cellar-bot:****@jenkins.example.com/job/{pkgname}"
HOOK = "https://hooks.example.com/in?token=hook-token"
HOOK_MASKED = "https://hooks.example.com/in?token=****"
NUMBERS = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from cheesecellar.testing import start_live_cellar

    live = start_live_cellar(tmp_path_factory.mktemp("triggers"), extra={"no_root_pypi": True})
    root = live.session()
    root.login("root", "")
    for name in ("alice", "bob"):
        root.put(f"/{name}", json={"password": f"{name}-pw"}).raise_for_status()
    yield live
    live.stop()


def session_of(server, name: str | None):
    session = server.session()
    if name == "root":
        session.login("root", "")
    elif name is not None:
        session.login(name, f"{name}-pw")
    return session


@pytest.fixture
def alice(server):
    with session_of(server, "alice") as session:
        yield session


@pytest.fixture
def dev(alice):
    """A new index of alice with both triggers set; its path."""
    path = f"/alice/dev{next(NUMBERS)}"
    reply = alice.put(path, json={"uploadtrigger_jenkins": JENKINS, "webhook_urls": [HOOK]})
    assert reply.status_code == 200, reply.text
    return path


def message_of(reply, status: int = 400) -> str:
    assert reply.status_code == status, reply.text
    return reply.json()["message"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"uploadtrigger_jenkins": "ftp://jenkins/job/x"}, "must be an http:// or https:// URL"),
        ({"uploadtrigger_jenkins": "https://jenkins/my job"}, "is not a URL (no spaces"),
        ({"uploadtrigger_jenkins": ["https://jenkins"]}, "must be an http:// or https:// URL"),
        ({"webhook_urls": {"a": 1}}, "must be a list of http:// or https:// URLs"),
        ({"webhook_urls": ["https://ok.example", "mailto:x@y"]}, "'mailto:x@y'"),
    ],
)
def test_bad_values_are_refused_at_creation(alice, config, message):
    reply = alice.put("/alice/refused", json=config)
    assert message in message_of(reply)
    assert alice.get("/alice/refused").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        ["uploadtrigger_jenkins=http//jenkins/job/x"],
        ["webhook_urls=https://a.example,not a url"],
        ["webhook_urls+=ftp://b.example"],
        {"uploadtrigger_jenkins": "https://jenkins.example/job/{project}"},
        {"webhook_urls": "https://a.example/#x"},
    ],
)
def test_bad_values_are_refused_by_patch_and_change_nothing(alice, dev, body):
    before = alice.get(dev).json()["result"]
    assert message_of(alice.patch(dev, json=body))
    assert alice.get(dev).json()["result"] == before


def test_owner_and_root_see_the_credentials_others_see_them_masked(server, dev):
    for name in ("alice", "root"):
        config = session_of(server, name).get(dev).json()["result"]
        assert (config["uploadtrigger_jenkins"], config["webhook_urls"]) == (JENKINS, [HOOK])
    for name in ("bob", None):
        config = session_of(server, name).get(dev).json()["result"]
        assert (config["uploadtrigger_jenkins"], config["webhook_urls"]) == (MASKED, [HOOK_MASKED])
        listed = session_of(server, name).get("/alice").json()["result"]["indexes"]
        assert listed[dev.rpartition("/")[2]]["uploadtrigger_jenkins"] == MASKED


def test_the_delivery_log_is_for_the_owner_and_root(server, dev):
    for name in ("alice", "root"):
        reply = session_of(server, name).get(f"{dev}/+triggers")
        assert reply.status_code == 200, reply.text
        assert reply.json()["type"] == "triggerlog"
        assert reply.json()["result"] == {"index": dev[1:], "pending": [], "deliveries": []}
    for name in ("bob", None):
        reply = session_of(server, name).get(f"{dev}/+triggers")
        assert "only alice and root" in message_of(reply, 403)
    assert session_of(server, "alice").get("/alice/nope/+triggers").status_code == 404
    for limit in ("0", "x", "1001"):
        reply = session_of(server, "alice").get(f"{dev}/+triggers?limit={limit}")
        assert "'limit' must be a number" in message_of(reply)


def test_status_reports_the_trigger_metrics(server):
    status = server.session().get("/+status").json()["result"]
    names = {metric[0] for metric in status["metrics"]}
    assert {
        "cellar_triggers_delivered",
        "cellar_triggers_failed",
        "cellar_triggers_retried",
        "cellar_triggers_pending",
    } <= names


def test_cellar_index_sets_and_refuses_values(server, alice, tmp_path, capsys, monkeypatch):
    cellar = CellarCLI(ClientEnv(tmp_path), capsys, monkeypatch)
    cellar.ok("use", server.url)
    cellar.ok("login", "alice", "--password", "alice-pw")
    cellar.ok("index", "-c", "clidev")
    shown = cellar.ok("index", "alice/clidev", f"uploadtrigger_jenkins={JENKINS}").out
    assert JENKINS in shown
    refused = cellar.fails("index", "alice/clidev", "webhook_urls=ftp://x.example")
    assert "'webhook_urls' must be an http:// or https:// URL" in refused.err
    assert alice.get("/alice/clidev").json()["result"]["uploadtrigger_jenkins"] == JENKINS


@pytest.mark.e2e
def test_devpi_index_sets_and_refuses_values(server, tmp_path):
    def devpi(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "devpi", "--clientdir", str(tmp_path / "client"), *args]
        env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
        return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)

    assert devpi("use", server.url).returncode == 0
    assert devpi("login", "alice", "--password", "alice-pw").returncode == 0
    assert devpi("index", "-c", "devpidev").returncode == 0
    done = devpi("index", "alice/devpidev", f"uploadtrigger_jenkins={JENKINS}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"uploadtrigger_jenkins={JENKINS}" in done.stdout
    refused = devpi("index", "alice/devpidev", "uploadtrigger_jenkins=jenkins.example.com/job")
    assert refused.returncode != 0
    assert "'uploadtrigger_jenkins' must be an http:// or https:// URL" in refused.stdout
