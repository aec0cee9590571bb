"""Finding the uploads of a commit in its changes: release files only, one per version."""

from __future__ import annotations

import hashlib
import io

import pytest

from cheesecellar.model import keys
from cheesecellar.model import releases
from cheesecellar.model.indexes import create_index
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.model.push import PushRequest
from cheesecellar.model.push import push_release
from cheesecellar.model.users import create_user_with_hash
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage_memory import MemoryStorage
from cheesecellar_jenkins.detect import uploads_in_commit


@pytest.fixture
def storage():
    storage = MemoryStorage()
    types = IndexTypeRegistry(make_plugin_manager(entry_points=False))
    with storage.transaction(write=True) as tx:
        create_user_with_hash(tx, "alice", None)
        create_index(tx, types, "alice", "dev", {})
        create_index(tx, types, "alice", "prod", {})
    yield storage
    storage.close()


def add(tx, filename: str, *, index="alice/dev", version="1.0", **kwargs) -> dict:
    data = filename.encode()
    entry, _ = releases.add_file(
        tx, index, "hello-world", version, filename, io.BytesIO(data),
        hashlib.sha256(data).hexdigest(), who="alice", volatile=True, **kwargs,
    )  # fmt: skip
    return entry


def commit(storage, change) -> list:
    """Run ``change(tx)`` in a commit; return the uploads found in it (none if nothing
    changed, so that no serial was committed)."""
    before = storage.last_serial()
    with storage.transaction(write=True) as tx:
        change(tx)
    serial = storage.last_serial()
    if serial == before:
        return []
    entry = storage.changelog(serial)
    with storage.transaction() as tx:
        return uploads_in_commit(serial, entry.timestamp, entry.changes, tx)


def register(tx, version="1.0"):
    releases.set_metadata(tx, "alice/dev", "hello-world", version, {"name": "Hello_World"})


def test_files_of_one_version_make_one_upload(storage):
    def change(tx):
        register(tx)
        add(tx, "Hello_World-1.0.tar.gz")
        add(tx, "Hello_World-1.0-py3-none-any.whl")

    [upload] = commit(storage, change)
    assert (upload.index, upload.project, upload.version) == ("alice/dev", "Hello_World", "1.0")
    assert upload.serial == storage.last_serial()
    assert [f.filename for f in upload.files] == [
        "Hello_World-1.0.tar.gz",
        "Hello_World-1.0-py3-none-any.whl",
    ]
    wheel = upload.files[1]
    data = b"Hello_World-1.0-py3-none-any.whl"
    assert (wheel.sha256, wheel.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert wheel.type == "releasefile"
    assert wheel.relpath.startswith("alice/dev/+f/")


def test_two_versions_make_two_uploads(storage):
    def change(tx):
        add(tx, "hello_world-1.0.tar.gz")
        add(tx, "hello_world-2.0.tar.gz", version="2.0")

    assert sorted(u.version for u in commit(storage, change)) == ["1.0", "2.0"]


def test_docs_tox_results_metadata_and_removals_do_not_trigger(storage):
    commit(storage, lambda tx: add(tx, "hello_world-1.0.tar.gz"))

    def attachments(tx):
        add(tx, "hello_world-1.0.doc.zip", filetype="doczip")
        [sdist] = releases.get_version(tx, "alice/dev", "hello-world", "1.0")["+files"][:1]
        add(tx, "toxresult-1.json", filetype="toxresult", extra={"for_relpath": sdist["relpath"]})
        register(tx)

    assert commit(storage, attachments) == []
    relpath = commit(storage, lambda tx: add(tx, "hello_world-1.0.zip"))[0].files[0].relpath
    remove = lambda tx: releases.remove_file(tx, "alice/dev", relpath, volatile=True, force=False)  # noqa: E731
    assert commit(storage, remove) == []


def test_an_identical_upload_again_does_not_trigger(storage):
    assert len(commit(storage, lambda tx: add(tx, "hello_world-1.0.tar.gz"))) == 1
    assert commit(storage, lambda tx: add(tx, "hello_world-1.0.tar.gz")) == []


def test_mirror_files_do_not_trigger(storage):
    def cache(tx):
        tx.store_file("root/pypi/+f/abc/def/x-1.0.tar.gz", io.BytesIO(b"x"))
        record = {"index": "root/pypi", "project": "x", "version": "1.0", "mirror": True}
        tx.set(keys.file("root/pypi/+f/abc/def/x-1.0.tar.gz"), record)

    assert commit(storage, cache) == []


def test_a_push_triggers_the_target_once_with_every_release_file(storage):
    def upload_both(tx):
        register(tx)
        add(tx, "Hello_World-1.0.tar.gz")
        add(tx, "Hello_World-1.0-py3-none-any.whl")
        add(tx, "Hello_World-1.0.doc.zip", filetype="doczip")

    commit(storage, upload_both)
    push = PushRequest("Hello_World", "1.0", "alice/prod")
    pushed = commit(storage, lambda tx: push_release(tx, storage, "alice/dev", push, who="alice",
                                                     volatile=True))  # fmt: skip
    [upload] = pushed
    assert (upload.index, upload.project) == ("alice/prod", "Hello_World")
    assert sorted(f.filename for f in upload.files) == [
        "Hello_World-1.0-py3-none-any.whl",
        "Hello_World-1.0.tar.gz",
    ]
    assert all(f.relpath.startswith("alice/prod/+f/") for f in upload.files)
