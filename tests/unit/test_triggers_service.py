"""The commit side of the trigger service: what a commit queues, once, and what it shows."""

from __future__ import annotations

import hashlib
import io

import pytest

from cheesecellar.model import releases
from cheesecellar.model.indexes import create_index
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.model.users import create_user_with_hash
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage_memory import MemoryStorage
from cheesecellar_jenkins.journal import Journal
from cheesecellar_jenkins.payloads import ServerInfo
from cheesecellar_jenkins.secret import WebhookSecret
from cheesecellar_jenkins.service import TriggerOptions
from cheesecellar_jenkins.service import TriggerService

CONFIG = {
    "uploadtrigger_jenkins": "https://bot:tok@jenkins.example/job/{pkgname}",
    "webhook_urls": ["https://hooks.example/a", "https://hooks.example/b"],
}


@pytest.fixture
def storage():
    storage = MemoryStorage()
    types = IndexTypeRegistry(make_plugin_manager(entry_points=False))
    with storage.transaction(write=True) as tx:
        create_user_with_hash(tx, "alice", None)
        create_index(tx, types, "alice", "dev", CONFIG)
        create_index(tx, types, "alice", "quiet", {})
    yield storage
    storage.close()


def service_in(storage, directory) -> TriggerService:
    """A service whose workers are never started: nothing is sent."""
    server = ServerInfo("node-1", "http://cellar.example")
    secret = WebhookSecret(None, directory)
    return TriggerService(storage, server, Journal(directory), secret, TriggerOptions())


def upload(storage, index: str, filename: str) -> tuple[int, list]:
    data = filename.encode()
    with storage.transaction(write=True) as tx:
        releases.add_file(
            tx, index, "hello", "1.0", filename, io.BytesIO(data),
            hashlib.sha256(data).hexdigest(), who="alice", volatile=True,
        )  # fmt: skip
    serial = storage.last_serial()
    return serial, storage.changelog(serial).changes


def test_a_commit_queues_one_delivery_per_receiver_once(storage, tmp_path):
    service = service_in(storage, tmp_path)
    serial, changes = upload(storage, "alice/dev", "hello-1.0.tar.gz")
    service.on_commit(serial, changes)
    service.on_commit(serial, changes)  # the event thread replays it after a crash
    queued = Journal(tmp_path).pending()
    assert sorted((d.kind, d.url) for d in queued) == sorted(
        [("jenkins", CONFIG["uploadtrigger_jenkins"])]
        + [("webhook", url) for url in CONFIG["webhook_urls"]]
    )
    assert {d.upload.serial for d in queued} == {serial}
    assert dict((m[0], m[2]) for m in service.metrics())["cellar_triggers_pending"] == 3

    again = service_in(storage, tmp_path)  # after a restart: the serial is known as queued
    again.on_commit(serial, changes)
    assert again.pending_for("alice/dev") == []
    assert len(Journal(tmp_path).pending()) == 3


def test_an_index_without_triggers_queues_nothing(storage, tmp_path):
    service = service_in(storage, tmp_path)
    service.on_commit(*upload(storage, "alice/quiet", "hello-1.0.tar.gz"))
    assert Journal(tmp_path).pending() == []
    assert not (tmp_path / ".triggers").exists()


def test_pending_deliveries_are_shown_with_masked_urls(storage, tmp_path):
    service = service_in(storage, tmp_path)
    service.on_commit(*upload(storage, "alice/dev", "hello-1.0.tar.gz"))
    shown = service.pending_for("alice/dev")
    assert {entry["url"] for entry in shown} == {
        "https://bot:****@jenkins.example/job/{pkgname}",
        *CONFIG["webhook_urls"],
    }
    assert all(entry["attempts"] == 0 and entry["project"] == "hello" for entry in shown)
    assert service.pending_for("alice/quiet") == []
