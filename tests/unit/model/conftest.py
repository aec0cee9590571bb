"""Model fixtures: index types from the real plugin manager, a write transaction in memory."""

from __future__ import annotations

import pytest

from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.model.users import create_user_with_hash
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage_memory import MemoryStorage


@pytest.fixture(scope="session")
def types():
    return IndexTypeRegistry(make_plugin_manager(entry_points=False))


@pytest.fixture
def storage():
    storage = MemoryStorage()
    yield storage
    storage.close()


@pytest.fixture
def tx(storage):
    """A write transaction in which the users ``root`` and ``alice`` exist."""
    with storage.transaction(write=True) as tx:
        create_user_with_hash(tx, "root", None)
        create_user_with_hash(tx, "alice", None)
        yield tx
