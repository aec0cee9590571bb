"""The example plugin in contrib/ is found through the entry-point group and works live.

CI installs contrib/cellar-hello-plugin next to cheesecellar; these tests fail, not skip,
when it is missing, so that a broken entry point cannot go unnoticed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import threading
import time

import pytest
import waitress

from cheesecellar.cli import main
from cheesecellar.config import settings_for_tests
from cheesecellar.plugins import ENTRY_POINT_GROUP
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.server import run_until
from cheesecellar.server import start
from cheesecellar.testing import CellarSession

INSTALL_HINT = "install the example plugin: pip install ./contrib/cellar-hello-plugin"
EVENT_WAIT = 10.0


def hello_module():
    try:
        return importlib.import_module("cellar_hello.plugin")
    except ImportError as exc:
        pytest.fail(f"{exc}; {INSTALL_HINT}")


@pytest.fixture
def hello_cellar(tmp_path):
    """A live server whose plugin manager loads entry points, as ``cellar serve`` does."""
    pm = make_plugin_manager(entry_points=True)
    settings = settings_for_tests(tmp_path / "server", port=0, extra={"hello_greeting": "moin"})
    running = start(settings, pm)
    server = waitress.create_server(running.app, host="127.0.0.1", port=0, threads=4)
    stopping = threading.Event()
    thread = threading.Thread(target=run_until, args=(server, stopping, 5), daemon=True)
    thread.start()
    try:
        yield running, CellarSession(f"http://127.0.0.1:{server.effective_port}")
    finally:
        stopping.set()
        thread.join(10)
        running.close()


def test_entry_point_is_declared():
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    assert "hello" in found.names, INSTALL_HINT
    assert found["hello"].value == "cellar_hello.plugin"


def test_plugin_manager_loads_the_entry_point():
    pm = make_plugin_manager()
    assert pm.get_plugin("hello") is hello_module(), INSTALL_HINT


def test_plugin_can_be_disabled_by_name():
    hello_module()
    pm = make_plugin_manager(blocked=["hello"])
    assert pm.is_blocked("hello")
    assert hello_module() not in pm.get_plugins()


def test_plugin_option_shows_in_cellar_help(capsys):
    hello_module()
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])
    assert exited.value.code == 0
    assert "--hello-greeting" in capsys.readouterr().out


def test_live_server_answers_hello(hello_cellar):
    _running, api = hello_cellar
    reply = api.get("/+hello")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"greeting": "moin", "serial": int(reply.headers["X-Devpi-Serial"])}
    assert "hello" in api.get("/+api").json()["result"]["features"]


def test_new_user_is_greeted_in_the_log(hello_cellar, caplog):
    running, api = hello_cellar
    caplog.set_level(logging.INFO, logger="cellar_hello")
    reply = api.put("/alice", json={"password": "secret"})
    assert reply.status_code == 201, reply.text
    serial = int(reply.headers["X-Devpi-Serial"])
    deadline = time.monotonic() + EVENT_WAIT
    while running.events.handled < serial and time.monotonic() < deadline:
        time.sleep(0.02)
    assert f"hello, alice! (user created at serial {serial})" in caplog.messages
