"""pytest fixtures for cheesecellar and its plugins: a live server on an ephemeral port.

Installed as the ``pytest11`` entry point ``cheesecellar``, so a plugin's own test suite
can use ``make_cellar`` to run a real server with exactly the plugins it wants.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import waitress

from cheesecellar.config import settings_for_tests
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.server import Running
from cheesecellar.server import run_until
from cheesecellar.server import start

JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


@dataclasses.dataclass
class LiveCellar:
    """A server running in this process; ``url`` has no trailing slash."""

    url: str
    running: Running
    serverdir: Path
    _server: Any
    _stopping: threading.Event
    _thread: threading.Thread

    @property
    def storage(self):
        return self.running.storage

    def session(self) -> CellarSession:
        return CellarSession(self.url)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10)
        self.running.close()


class CellarSession(requests.Session):
    """A requests session that talks devpi's JSON API with paths relative to the server."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.base = url
        self.headers.update(JSON_HEADERS)

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/"):
            url = self.base + url
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)

    def login(self, user: str, password: str) -> str:
        """Log in and send the token as ``X-Devpi-Auth`` from now on; return the token."""
        reply = self.post("/+login", json={"user": user, "password": password})
        reply.raise_for_status()
        token = reply.json()["result"]["password"]
        import base64

        self.headers["X-Devpi-Auth"] = base64.b64encode(f"{user}:{token}".encode()).decode()
        return token

    def logout(self) -> None:
        self.headers.pop("X-Devpi-Auth", None)


def start_live_cellar(serverdir: Path, plugins=(), **settings: Any) -> LiveCellar:
    """Start a server for ``serverdir`` on 127.0.0.1 and an ephemeral port."""
    pm = make_plugin_manager(extra=plugins, entry_points=False)
    settings.setdefault("port", 0)
    resolved = settings_for_tests(serverdir, **settings)
    running = start(resolved, pm)
    server = waitress.create_server(
        running.app, host="127.0.0.1", port=resolved.port, threads=settings.get("threads", 8)
    )
    stopping = threading.Event()
    thread = threading.Thread(target=run_until, args=(server, stopping, 5), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}"
    return LiveCellar(url, running, Path(serverdir), server, stopping, thread)


@pytest.fixture
def make_cellar(tmp_path_factory) -> Iterator:
    """Factory: ``make_cellar(plugins=[...], **settings)`` starts a live server.

    Each call gets a fresh server directory unless ``serverdir`` is given; every server
    is stopped at the end of the test.
    """
    started: list[LiveCellar] = []

    def factory(plugins=(), serverdir: Path | None = None, **settings: Any) -> LiveCellar:
        if serverdir is None:
            serverdir = tmp_path_factory.mktemp("cellar")
        live = start_live_cellar(serverdir, plugins, **settings)
        started.append(live)
        return live

    yield factory
    for live in started:
        live.stop()


@pytest.fixture
def cellar(make_cellar) -> LiveCellar:
    """A live server with the default plugins and a fresh server directory."""
    return make_cellar()


@pytest.fixture
def api(cellar) -> CellarSession:
    """A JSON API session to :func:`cellar`, not logged in."""
    with cellar.session() as session:
        yield session
