"""The replication side of the storage contract: blob changes in the changelog, imports
of a primary's serials, pending blobs; run against every registered backend."""

from __future__ import annotations

import hashlib
import io
import threading

import pytest

from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage import BlobPending
from cheesecellar.storage import ChangelogEntry
from cheesecellar.storage import FileChange
from cheesecellar.storage import StorageError
from cheesecellar.storage import StorageRegistry

BIG = b"x" * (300 * 1024)  # larger than any backend keeps inline


def _backends() -> StorageRegistry:
    registry = StorageRegistry()
    make_plugin_manager(entry_points=False).hook.cellar_register_storage(registry=registry)
    return registry


BACKENDS = _backends()


@pytest.fixture(params=BACKENDS.names())
def open_store(request, tmp_path):
    backend = BACKENDS.get(request.param)
    opened = []

    def open_(name="primary"):
        store = backend.factory(tmp_path / name, {})
        opened.append(store)
        return store

    open_.ephemeral = request.param == "memory"
    yield open_
    for store in opened:
        store.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_blob(store, path: str) -> bytes:
    with store.open_file(path) as fp:
        return fp.read()


def entries(store, since: int = 0) -> list[ChangelogEntry]:
    return [store.changelog(serial) for serial in range(since, store.last_serial() + 1)]


def fill_primary(primary) -> None:
    with primary.transaction(write=True) as tx:
        tx.set("user/alice", {"email": "a@example.org"})
        tx.store_file("alice/dev/+f/a.whl", io.BytesIO(b"wheel"))
        tx.store_file("alice/dev/+f/big.tar.gz", io.BytesIO(BIG))
    with primary.transaction(write=True) as tx:
        tx.delete_file("alice/dev/+f/a.whl")
        tx.store_file("alice/dev/+f/a.whl.metadata", io.BytesIO(b"Name: a"))


def test_blob_changes_are_in_the_changelog_apart_from_records(open_store):
    store = open_store()
    fill_primary(store)
    first, second = store.changelog(0), store.changelog(1)
    assert [change.key for change in first.changes] == ["user/alice"]
    assert sorted(first.files, key=lambda f: f.path) == [
        FileChange("alice/dev/+f/a.whl", sha(b"wheel"), 5),
        FileChange("alice/dev/+f/big.tar.gz", sha(BIG), len(BIG)),
    ]
    assert second.changes == []
    assert sorted(second.files, key=lambda f: f.path) == [
        FileChange("alice/dev/+f/a.whl", None, None),
        FileChange("alice/dev/+f/a.whl.metadata", sha(b"Name: a"), 7),
    ]


def test_import_keeps_serials_timestamps_records_and_file_rows(open_store):
    primary, replica = open_store(), open_store("replica")
    fill_primary(primary)
    replica.import_changes(entries(primary))
    assert replica.last_serial() == primary.last_serial() == 1
    for serial in (0, 1):
        assert replica.changelog(serial) == primary.changelog(serial)
    with replica.transaction() as tx:
        assert tx.get("user/alice") == {"email": "a@example.org"}
        assert tx.file_info("alice/dev/+f/a.whl") is None
        assert tx.file_info("alice/dev/+f/big.tar.gz").sha256 == sha(BIG)
    pending = {ref.path for ref in replica.pending_files()}
    assert pending == {"alice/dev/+f/big.tar.gz", "alice/dev/+f/a.whl.metadata"}


def test_a_pending_blob_is_not_served_until_its_content_arrives(open_store):
    primary, replica = open_store(), open_store("replica")
    fill_primary(primary)
    replica.import_changes(entries(primary))
    with pytest.raises(BlobPending):
        replica.open_file("alice/dev/+f/big.tar.gz")
    assert replica.store_replicated_blob("alice/dev/+f/big.tar.gz", io.BytesIO(BIG))
    assert read_blob(replica, "alice/dev/+f/big.tar.gz") == BIG
    assert [ref.path for ref in replica.pending_files()] == ["alice/dev/+f/a.whl.metadata"]
    # Stored already: a second delivery is not wanted.
    assert not replica.store_replicated_blob("alice/dev/+f/big.tar.gz", io.BytesIO(BIG))


@pytest.mark.parametrize("wrong", [b"y" * len(BIG), BIG[:-1], b"short"])
def test_content_that_does_not_match_is_refused_and_nothing_kept(open_store, wrong):
    primary, replica = open_store(), open_store("replica")
    fill_primary(primary)
    replica.import_changes(entries(primary))
    with pytest.raises(StorageError, match="does not match"):
        replica.store_replicated_blob("alice/dev/+f/big.tar.gz", io.BytesIO(wrong))
    with pytest.raises(BlobPending):
        replica.open_file("alice/dev/+f/big.tar.gz")
    tmpdir = getattr(getattr(replica, "blobs", None), "tmpdir", None)
    if tmpdir is not None:
        assert list(tmpdir.iterdir()) == []


def test_the_fetcher_brings_a_pending_blob_on_demand(open_store):
    primary, replica = open_store(), open_store("replica")
    fill_primary(primary)
    asked = []

    def fetch(ref):
        asked.append(ref.path)
        with primary.open_file(ref.path) as fp:
            replica.store_replicated_blob(ref.path, fp)

    replica.follow_primary(fetch)
    replica.import_changes(entries(primary))
    assert read_blob(replica, "alice/dev/+f/a.whl.metadata") == b"Name: a"
    assert read_blob(replica, "alice/dev/+f/a.whl.metadata") == b"Name: a"
    assert asked == ["alice/dev/+f/a.whl.metadata"]


def test_a_fetcher_that_fails_leaves_the_blob_pending(open_store):
    primary, replica = open_store(), open_store("replica")
    fill_primary(primary)
    replica.follow_primary(lambda ref: None)
    replica.import_changes(entries(primary))
    with pytest.raises(BlobPending):
        replica.open_file("alice/dev/+f/a.whl.metadata")
    with pytest.raises(FileNotFoundError):
        replica.open_file("alice/dev/+f/a.whl")  # removed by serial 1


def test_a_following_store_refuses_its_own_writes(open_store):
    replica = open_store("replica")
    replica.follow_primary(lambda ref: None)
    with (
        pytest.raises(StorageError, match="follows a primary"),
        replica.transaction(write=True) as tx,
    ):
        tx.set("user/x", {})
    replica.set_meta("node-local", 1)
    assert replica.get_meta("node-local") == 1


def test_a_gap_or_a_repeated_serial_is_refused_and_nothing_imported(open_store):
    primary, replica = open_store(), open_store("replica")
    fill_primary(primary)
    with pytest.raises(StorageError, match="expected serial 0, got 1"):
        replica.import_changes([primary.changelog(1)])
    replica.import_changes([primary.changelog(0)])
    with pytest.raises(StorageError, match="expected serial 1, got 0"):
        replica.import_changes([primary.changelog(0), primary.changelog(1)])
    assert replica.last_serial() == 0


def test_content_already_here_is_not_pending_again(open_store):
    primary, replica = open_store(), open_store("replica")
    with primary.transaction(write=True) as tx:
        tx.store_file("f/one", io.BytesIO(b"one"))
    with primary.transaction(write=True) as tx:
        tx.store_file("f/one", io.BytesIO(b"one"))  # the same content again
        tx.set("user/bob", {})
    replica.import_changes([primary.changelog(0)])
    replica.store_replicated_blob("f/one", io.BytesIO(b"one"))
    replica.import_changes([primary.changelog(1)])
    assert replica.pending_files() == []
    assert read_blob(replica, "f/one") == b"one"


def test_replaced_content_masks_the_old_until_the_new_arrives(open_store):
    primary, replica = open_store(), open_store("replica")
    with primary.transaction(write=True) as tx:
        tx.store_file("f/one", io.BytesIO(b"old"))
    with primary.transaction(write=True) as tx:
        tx.store_file("f/one", io.BytesIO(b"new"))
    replica.import_changes([primary.changelog(0)])
    replica.store_replicated_blob("f/one", io.BytesIO(b"old"))
    replica.import_changes([primary.changelog(1)])
    with pytest.raises(BlobPending):
        replica.open_file("f/one")
    with pytest.raises(StorageError):
        replica.store_replicated_blob("f/one", io.BytesIO(b"old"))
    assert replica.store_replicated_blob("f/one", io.BytesIO(b"new"))
    assert read_blob(replica, "f/one") == b"new"


def test_wait_for_commit_wakes_for_an_import(open_store):
    primary, replica = open_store(), open_store("replica")
    fill_primary(primary)
    seen = []
    waiter = threading.Thread(target=lambda: seen.append(replica.wait_for_commit(1, 30)))
    waiter.start()
    replica.import_changes(entries(primary))
    waiter.join(30)
    assert seen == [1]


def test_imports_and_pending_blobs_survive_a_restart(open_store):
    if open_store.ephemeral:
        pytest.skip("an ephemeral backend keeps nothing")
    primary, replica = open_store(), open_store("replica")
    fill_primary(primary)
    replica.import_changes(entries(primary))
    replica.store_replicated_blob("alice/dev/+f/big.tar.gz", io.BytesIO(BIG))
    replica.close()
    again = open_store("replica")
    assert again.last_serial() == 1
    assert [ref.path for ref in again.pending_files()] == ["alice/dev/+f/a.whl.metadata"]
    assert read_blob(again, "alice/dev/+f/big.tar.gz") == BIG
    assert again.changelog(1) == primary.changelog(1)


def test_several_blobs_are_stored_in_one_call_each_checked(open_store):
    primary, replica = open_store(), open_store("replica")
    fill_primary(primary)
    with primary.transaction(write=True) as tx:
        tx.store_file("f/three", io.BytesIO(b"three"))
    replica.import_changes(entries(primary))
    results = replica.store_replicated_blobs(
        [
            ("alice/dev/+f/big.tar.gz", io.BytesIO(BIG)),  # a file
            ("alice/dev/+f/a.whl.metadata", b"Name: b"),  # bytes, wrong content
            ("f/three", b"three"),
            ("f/three", b"three"),  # a repeat
            ("alice/dev/+f/a.whl", b"wheel"),  # removed: not pending
        ]
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], StorageError) and "does not match" in str(results[1])
    assert results[3] is False and results[4] is False
    assert read_blob(replica, "alice/dev/+f/big.tar.gz") == BIG
    assert read_blob(replica, "f/three") == b"three"
    assert [ref.path for ref in replica.pending_files()] == ["alice/dev/+f/a.whl.metadata"]
    with pytest.raises(BlobPending):
        replica.open_file("alice/dev/+f/a.whl.metadata")
    assert replica.store_replicated_blobs([("alice/dev/+f/a.whl.metadata", b"Name: a")]) == [True]
    assert replica.pending_files() == []
    getattr(replica, "wait_for_files", lambda: None)()  # stored temp files are placed
    tmpdir = getattr(getattr(replica, "blobs", None), "tmpdir", None)
    if tmpdir is not None:
        assert list(tmpdir.iterdir()) == []


def test_a_batch_never_settles_content_a_newer_serial_replaced(open_store):
    primary, replica = open_store(), open_store("replica")
    with primary.transaction(write=True) as tx:
        tx.store_file("f/one", io.BytesIO(b"old"))
        tx.store_file("f/two", io.BytesIO(b"two"))
    with primary.transaction(write=True) as tx:
        tx.store_file("f/one", io.BytesIO(b"new"))
    replica.import_changes([primary.changelog(0)])
    replica.import_changes([primary.changelog(1)])  # fetched "old" is stale now
    results = replica.store_replicated_blobs([("f/one", b"old"), ("f/two", b"two")])
    assert isinstance(results[0], StorageError) and results[1] is True
    with pytest.raises(BlobPending):
        replica.open_file("f/one")
    assert replica.store_replicated_blobs([("f/one", b"new")]) == [True]
    assert read_blob(replica, "f/one") == b"new"


def test_blobs_stored_in_a_batch_survive_a_restart(open_store):
    if open_store.ephemeral:
        pytest.skip("an ephemeral backend keeps nothing")
    primary, replica = open_store(), open_store("replica")
    fill_primary(primary)
    replica.import_changes(entries(primary))
    items = [("alice/dev/+f/big.tar.gz", BIG), ("alice/dev/+f/a.whl.metadata", b"Name: a")]
    assert replica.store_replicated_blobs(items) == [True, True]
    replica.close()
    again = open_store("replica")
    assert again.pending_files() == []
    assert read_blob(again, "alice/dev/+f/big.tar.gz") == BIG
    assert read_blob(again, "alice/dev/+f/a.whl.metadata") == b"Name: a"
