"""Fixtures shared by the functional tests: one live server per module, sessions on it."""

from __future__ import annotations

import pytest

from cheesecellar.testing import start_live_cellar


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """One server for the module; tests work on users and indexes with names of their own.

    Modules that need special settings or plugins define their own ``server``.
    """
    live = start_live_cellar(tmp_path_factory.mktemp(request.module.__name__.split(".")[-1]))
    yield live
    live.stop()


@pytest.fixture
def anon(server):
    """A JSON API session to the module's server, not logged in."""
    with server.session() as session:
        yield session


@pytest.fixture
def root(server):
    """A JSON API session logged in as root (empty password on a new server)."""
    with server.session() as session:
        session.login("root", "")
        yield session
