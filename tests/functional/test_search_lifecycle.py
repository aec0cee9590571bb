"""The search index across restarts, damage and rebuilds; without a backend; another backend."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time

import pytest
import requests
import waitress
from test_search import backend
from test_search import hits
from test_search import new_index
from test_search import projects
from test_search import release
from test_search import search
from test_search import wait_indexed

from cheesecellar import hookimpl
from cheesecellar.config import settings_for_tests
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.search import SearchHit
from cheesecellar.search import SearchResults
from cheesecellar.server import run_until
from cheesecellar.server import start
from cheesecellar.testing import LiveCellar

NO_PYPI = {"no_root_pypi": True}


def state(serverdir) -> dict:
    return json.loads((serverdir / ".search" / "state.json").read_text())


@pytest.fixture
def start_without_search():
    """Start a server whose plugin manager has ``cheesecellar_search`` blocked."""
    started: list[LiveCellar] = []

    def factory(serverdir) -> LiveCellar:
        pm = make_plugin_manager(blocked=["cheesecellar_search"], entry_points=False)
        running = start(settings_for_tests(serverdir, port=0, extra=NO_PYPI), pm)
        server = waitress.create_server(running.app, host="127.0.0.1", port=0, threads=4)
        stopping = threading.Event()
        thread = threading.Thread(target=run_until, args=(server, stopping, 5), daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.effective_port}"
        live = LiveCellar(url, running, serverdir, server, stopping, thread)
        started.append(live)
        return live

    yield factory
    for live in started:
        if not live._stopping.is_set():
            live.stop()


def test_restart_resumes_and_indexes_what_changed_while_search_was_off(
    make_cellar, start_without_search
):
    first = make_cellar(extra=NO_PYPI)
    index, auth = new_index(first)
    release(first, index, auth, "before", summary="ocelot")
    indexed = wait_indexed(first)["indexed-serial"]
    first.stop()
    assert state(first.serverdir)["serial"] == indexed
    plain = start_without_search(first.serverdir)
    assert search(plain, "ocelot").status_code == 501
    release(plain, index, auth, "during", summary="ocelot")
    plain.stop()
    before = state(first.serverdir)
    assert before["serial"] == indexed
    again = make_cellar(serverdir=first.serverdir, extra=NO_PYPI)
    wait_indexed(again)
    assert state(again.serverdir)["current"] == before["current"], "resumed, not rebuilt"
    assert sorted(projects(hits(again, "ocelot"))) == [("project", "before"), ("project", "during")]


def test_no_search_plugin_answers_501(tmp_path, start_without_search):
    live = start_without_search(tmp_path)
    reply = search(live, "anything")
    assert reply.status_code == 501
    assert "no search plugin" in reply.json()["message"]
    call = b"<?xml version='1.0'?><methodCall><methodName>search</methodName><params>"
    call += b"<param><value><struct></struct></value></param></params></methodCall>"
    reply = requests.post(live.url + "/+search", data=call, headers={"Content-Type": "text/xml"})
    assert reply.status_code == 200
    assert b"<fault>" in reply.content and b"no search plugin" in reply.content


def test_a_damaged_index_is_rebuilt_at_start(make_cellar, caplog):
    first = make_cellar(extra=NO_PYPI)
    index, auth = new_index(first)
    release(first, index, auth, "survivor", summary="pangolin")
    wait_indexed(first)
    first.stop()
    directory = first.serverdir / ".search" / state(first.serverdir)["current"]
    for path in directory.iterdir():
        path.write_bytes(b"\x00garbage" * 10)
    with caplog.at_level(logging.WARNING, logger="cheesecellar_search"):
        again = make_cellar(serverdir=first.serverdir, extra=NO_PYPI)
        wait_indexed(again)  # the index is opened (and found damaged) after start-up
    assert any("cannot be used" in record.getMessage() for record in caplog.records)
    assert projects(hits(again, "pangolin")) == [("project", "survivor")]
    assert not directory.exists(), "the damaged directory is removed"


def test_garbage_state_file_means_a_rebuild(make_cellar):
    first = make_cellar(extra=NO_PYPI)
    index, auth = new_index(first)
    release(first, index, auth, "stateful", summary="tapir")
    wait_indexed(first)
    first.stop()
    (first.serverdir / ".search" / "state.json").write_text("{not json")
    again = make_cellar(serverdir=first.serverdir, extra=NO_PYPI)
    wait_indexed(again)
    assert projects(hits(again, "tapir")) == [("project", "stateful")]


def test_rebuild_command_on_a_stopped_server(make_cellar):
    first = make_cellar(extra=NO_PYPI)
    index, auth = new_index(first)
    release(first, index, auth, "rebuilt", summary="dugong")
    wait_indexed(first)
    old = state(first.serverdir)["current"]
    command = [sys.executable, "-m", "cheesecellar.cli", "search-index", "--rebuild"]
    command += ["--serverdir", str(first.serverdir)]
    busy = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert busy.returncode == 1
    assert "in use" in busy.stderr
    first.stop()
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "search index rebuilt" in done.stdout
    after = state(first.serverdir)
    assert after["current"] != old
    assert after["serial"] == first.storage.last_serial()
    again = make_cellar(serverdir=first.serverdir, extra=NO_PYPI)
    assert projects(hits(again, "dugong")) == [("project", "rebuilt")]


def test_rebuild_on_a_running_server_keeps_answering(make_cellar):
    live = make_cellar(extra=NO_PYPI)
    index, auth = new_index(live)
    release(live, index, auth, "steady", summary="okapi")
    wait_indexed(live)
    old = state(live.serverdir)["current"]
    backend(live).rebuild()
    assert projects(hits(live, "okapi")) == [("project", "steady")]
    deadline = time.monotonic() + 30
    while state(live.serverdir)["current"] == old:
        assert time.monotonic() < deadline, "the rebuild did not finish"
        time.sleep(0.02)
    wait_indexed(live)
    assert projects(hits(live, "okapi")) == [("project", "steady")]
    assert not (live.serverdir / ".search" / old).exists()


class NameOnlySearch:
    """A third-party backend: finds users by name. Small, but a real implementation."""

    def __init__(self, registry) -> None:
        self.registry = registry

    def search(self, query, *, page=1, per_page=20, indexname=None):
        hit = SearchHit("project", "x", "y", query, None, f"/x/y/{query}", query)
        return SearchResults(query, page, per_page, 1, (hit,))

    def search_fields(self, fields, operator, indexname=None):
        return [SearchHit("project", "x", "y", n, "1.0", "/", n) for n in fields.get("name", ())]

    def status(self):
        return {"indexed-serial": -1, "queued": 0}

    def rebuild(self):
        pass


class OtherEngine:
    @hookimpl
    def cellar_get_search_backend(self, registry):
        return NameOnlySearch(registry)


def test_a_plugin_backend_replaces_the_built_in_one(make_cellar):
    live = make_cellar(plugins=[OtherEngine()], extra=NO_PYPI)
    assert isinstance(backend(live), NameOnlySearch)
    assert not (live.serverdir / ".search").exists(), "the built-in engine never started"
    assert hits(live, "echo")[0]["path"] == "/x/y/echo"


def test_searches_in_parallel_with_uploads(make_cellar):
    live = make_cellar(extra=NO_PYPI)
    index, auth = new_index(live)
    errors: list[int] = []

    def searching():
        for _ in range(30):
            status = search(live, "lemur").status_code
            if status != 200:
                errors.append(status)

    threads = [threading.Thread(target=searching) for _ in range(3)]
    for thread in threads:
        thread.start()
    for number in range(10):
        release(live, index, auth, f"lemur{number}", summary="lemur")
    for thread in threads:
        thread.join()
    assert errors == []
    wait_indexed(live)
    assert len(hits(live, "lemur")) == 10
