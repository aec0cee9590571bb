"""The storage contract, run against every backend registered through the plugin hook."""

from __future__ import annotations

import hashlib
import io
import threading

import pytest
from zope.interface.verify import verifyObject

from cheesecellar.interfaces import IStorage
from cheesecellar.interfaces import ITransaction
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage import StorageError
from cheesecellar.storage import StorageRegistry

#: Backends that keep nothing across close and reopen; any other is expected to.
EPHEMERAL_BACKENDS = {"memory"}

INVALID_PATHS = ["../x", "a/../x", "/abs", "a//b", "a/./b", "a\\b", "a\x00b", "", "a/"]


def registered_backends() -> StorageRegistry:
    registry = StorageRegistry()
    make_plugin_manager(entry_points=False).hook.cellar_register_storage(registry=registry)
    return registry


BACKENDS = registered_backends()


def test_fs_and_memory_are_registered():
    assert {"fs", "memory"} <= set(BACKENDS.names())


@pytest.fixture(params=BACKENDS.names())
def backend(request):
    return BACKENDS.get(request.param)


@pytest.fixture
def open_store(backend, tmp_path):
    """Open the backend in the same directory each time; everything is closed at the end."""
    opened = []

    def open_():
        store = backend.factory(tmp_path / "store", {})
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store):
    return open_store()


def commit(store, **records):
    """Commit ``records`` (``None`` deletes) in one write transaction; return its serial."""
    with store.transaction(write=True) as tx:
        for key, value in records.items():
            if value is None:
                tx.delete(key)
            else:
                tx.set(key, value)
    return store.last_serial()


def read(store, key):
    with store.transaction() as tx:
        return tx.get(key)


def in_thread(func):
    """Run ``func`` in another thread, wait for it, re-raise what it raised, return its result."""
    outcome = {}

    def run():
        try:
            outcome["result"] = func()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def devpi_path(sha256: str) -> str:
    return f"emilie/dev/+f/{sha256[:3]}/{sha256[3:16]}/hello-1.0.tar.gz"


def test_provides_the_interfaces(store):
    assert verifyObject(IStorage, store)
    with store.transaction(write=True) as tx:
        assert verifyObject(ITransaction, tx)
        assert tx.write is True
    with store.transaction() as tx:
        assert verifyObject(ITransaction, tx)
        assert tx.write is False


def test_empty_store(store):
    assert store.last_serial() == -1
    assert store.last_commit_timestamp() is None
    assert store.changelog(0) is None
    with store.transaction() as tx:
        assert tx.at_serial == -1
        assert tx.get("user/alice") is None
        assert tx.keys("") == []


def test_each_commit_gets_the_next_serial(store):
    assert commit(store, **{"user/alice": {"n": 1}}) == 0
    with store.transaction(write=True) as tx:
        assert tx.at_serial == 0
        tx.set("user/bob", {"n": 2})
    assert store.last_serial() == 1
    assert commit(store, **{"user/alice": None}) == 2
    with store.transaction() as tx:
        assert tx.at_serial == 2


def test_on_commit_callbacks_get_the_serial(store):
    seen = []
    with store.transaction(write=True) as tx:
        tx.set("user/alice", {})
        tx.on_commit(seen.append)
        assert seen == []
    assert seen == [0]


def test_write_that_stages_nothing_creates_no_serial(store):
    seen = []
    with store.transaction(write=True) as tx:
        assert tx.get("user/alice") is None
        tx.on_commit(seen.append)
    assert store.last_serial() == -1
    assert store.changelog(0) is None
    assert seen == []


def test_writes_that_change_nothing_create_no_serial(store):
    commit(store, **{"user/alice": {"email": "a@x"}})
    seen = []
    with store.transaction(write=True) as tx:
        tx.set("user/alice", {"email": "a@x"})  # the value it already has
        tx.delete("user/nobody")  # a key that never existed
        tx.set("user/temp", {"x": 1})
        tx.delete("user/temp")  # staged and removed again
        tx.on_commit(seen.append)
    assert store.last_serial() == 0
    assert store.changelog(1) is None
    assert seen == []


def test_phantom_deletes_stay_out_of_the_changelog(store):
    commit(store, **{"user/alice": {"email": "a@x"}})
    with store.transaction(write=True) as tx:
        tx.set("user/bob", {"email": "b@x"})
        tx.delete("user/nobody")
    keys = [change.key for change in store.changelog(1).changes]
    assert keys == ["user/bob"]


def test_writer_reads_its_own_writes(store):
    commit(store, **{"user/alice": {"n": 1}, "user/bob": {"n": 2}})
    with store.transaction(write=True) as tx:
        tx.set("user/carl", {"n": 3})
        tx.set("user/alice", {"n": 10})
        tx.delete("user/bob")
        assert tx.get("user/carl") == {"n": 3}
        assert tx.get("user/alice") == {"n": 10}
        assert tx.get("user/bob") is None
        assert tx.keys("user/") == ["user/alice", "user/carl"]
    assert read(store, "user/alice") == {"n": 10}
    assert read(store, "user/bob") is None


def test_read_transaction_refuses_writes(store):
    with store.transaction() as tx:
        with pytest.raises(StorageError):
            tx.set("user/alice", {})
        with pytest.raises(StorageError):
            tx.delete("user/alice")
        with pytest.raises(StorageError):
            tx.store_file("a/b", io.BytesIO(b"x"))
    assert store.last_serial() == -1


def test_set_none_is_refused(store):
    with store.transaction(write=True) as tx, pytest.raises(StorageError):
        tx.set("user/alice", None)


def test_stored_records_are_copies(store):
    value = {"acl": ["alice"]}
    with store.transaction(write=True) as tx:
        tx.set("index/alice/dev", value)
    value["acl"].append("mallory")
    with store.transaction() as tx:
        got = tx.get("index/alice/dev")
        got["acl"].append("eve")
    assert read(store, "index/alice/dev") == {"acl": ["alice"]}
    assert store.changelog(0).changes[0].value == {"acl": ["alice"]}


def test_reader_sees_a_snapshot(store):
    commit(store, **{"user/alice": {"v": 1}})
    with store.transaction() as old:
        assert old.get("user/alice") == {"v": 1}
        in_thread(lambda: commit(store, **{"user/alice": {"v": 2}, "user/bob": {"v": 1}}))
        assert store.last_serial() == 1
        assert old.at_serial == 0
        assert old.get("user/alice") == {"v": 1}
        assert old.get("user/bob") is None
        assert old.keys("user/") == ["user/alice"]
    with store.transaction() as new:
        assert new.at_serial == 1
        assert new.get("user/alice") == {"v": 2}
        assert new.keys("user/") == ["user/alice", "user/bob"]


def test_changelog_and_meta_are_current_inside_a_read_transaction(store):
    commit(store, **{"user/alice": {"v": 1}})
    with store.transaction() as tx:
        in_thread(lambda: commit(store, **{"user/bob": {"v": 1}}))
        in_thread(lambda: store.set_meta("event-serial", 1))
        assert tx.at_serial == 0
        assert store.wait_for_commit(1, timeout=0) == 1
        assert _by_key(store.changelog(1)) == {"user/bob": ({"v": 1}, -1)}
        assert store.last_commit_timestamp() == store.changelog(1).timestamp
        assert store.get_meta("event-serial") == 1


def test_reader_sees_a_snapshot_of_files(store):
    with store.transaction() as old:
        in_thread(lambda: _store_blob(store, "a/one.txt", b"one"))
        assert old.file_info("a/one.txt") is None
    with store.transaction() as new:
        assert new.file_info("a/one.txt").size == 3


def _store_blob(store, path, content):
    with store.transaction(write=True) as tx:
        return tx.store_file(path, io.BytesIO(content))


def test_only_one_writer_at_a_time(store):
    order = []
    first_inside = threading.Event()
    release_first = threading.Event()
    second_inside = threading.Event()

    def first():
        with store.transaction(write=True) as tx:
            tx.set("user/alice", {"by": "first"})
            order.append("first in")
            first_inside.set()
            release_first.wait(30)
            order.append("first out")

    def second():
        first_inside.wait(30)
        with store.transaction(write=True) as tx:
            order.append("second in")
            second_inside.set()
            seen = (tx.at_serial, tx.get("user/alice"))
            tx.set("user/alice", {"by": "second"})
            return seen

    thread = threading.Thread(target=first)
    thread.start()
    first_inside.wait(30)
    result = {}
    other = threading.Thread(target=lambda: result.update(seen=second()))
    other.start()
    # While the first writer is open, the second must not get in.
    assert not second_inside.wait(0.3)
    release_first.set()
    thread.join(30)
    other.join(30)
    assert order == ["first in", "first out", "second in"]
    assert result["seen"] == (0, {"by": "first"})
    assert store.last_serial() == 1


def test_exception_rolls_back_records_and_files(store):
    commit(store, **{"user/alice": {"v": 1}})
    with pytest.raises(RuntimeError), store.transaction(write=True) as tx:
        tx.set("user/alice", {"v": 2})
        tx.set("user/bob", {"v": 1})
        tx.store_file("a/b.txt", io.BytesIO(b"content"))
        raise RuntimeError("boom")
    assert store.last_serial() == 0
    assert store.changelog(1) is None
    with store.transaction() as tx:
        assert tx.get("user/alice") == {"v": 1}
        assert tx.get("user/bob") is None
        assert tx.file_info("a/b.txt") is None
    with pytest.raises(FileNotFoundError):
        store.open_file("a/b.txt")


def test_failed_commit_leaves_nothing(store):
    with pytest.raises(TypeError), store.transaction(write=True) as tx:
        tx.store_file("a/b.txt", io.BytesIO(b"content"))
        tx.set("user/alice", {"not json": object()})
    assert store.last_serial() == -1
    assert read(store, "user/alice") is None
    with pytest.raises(FileNotFoundError):
        store.open_file("a/b.txt")
    commit(store, **{"user/bob": {}})
    assert store.last_serial() == 0


def test_changelog_records_values_and_back_serials(store):
    commit(store, **{"user/alice": {"v": 1}, "user/bob": {"v": 1}})
    commit(store, **{"user/alice": {"v": 2}, "user/bob": None, "user/carl": {"v": 1}})
    commit(store, **{"user/alice": {"v": 3}})
    first, second, third = (store.changelog(serial) for serial in (0, 1, 2))
    assert [first.serial, second.serial, third.serial] == [0, 1, 2]
    assert first.timestamp <= second.timestamp <= third.timestamp
    assert store.last_commit_timestamp() == third.timestamp
    assert _by_key(first) == {"user/alice": ({"v": 1}, -1), "user/bob": ({"v": 1}, -1)}
    assert _by_key(second) == {
        "user/alice": ({"v": 2}, 0),
        "user/bob": (None, 0),
        "user/carl": ({"v": 1}, -1),
    }
    assert _by_key(third) == {"user/alice": ({"v": 3}, 1)}
    assert store.changelog(3) is None


def _by_key(entry):
    return {change.key: (change.value, change.back_serial) for change in entry.changes}


def test_keys_are_sorted_and_prefix_exact(store):
    commit(
        store,
        **{
            "index/alicex/dev": {},
            "index/alice/prod": {},
            "index/bob/dev": {},
            "index/alice/dev": {},
            "user/alice": {},
        },
    )
    with store.transaction(write=True) as tx:
        assert tx.keys("index/alice/") == ["index/alice/dev", "index/alice/prod"]
        assert tx.keys("index/alice") == [
            "index/alice/dev",
            "index/alice/prod",
            "index/alicex/dev",
        ]
        assert tx.keys("nothing/") == []
        tx.set("index/alice/abc", {})
        tx.delete("index/alice/dev")
        assert tx.keys("index/alice/") == ["index/alice/abc", "index/alice/prod"]
    with store.transaction() as tx:
        assert tx.keys("index/alice/") == ["index/alice/abc", "index/alice/prod"]
        assert len(tx.keys("")) == 5


def test_store_file_with_a_callable_path(store):
    content = bytes(range(256)) * 1000  # larger than one copy chunk
    sha256 = hashlib.sha256(content).hexdigest()
    with store.transaction(write=True) as tx:
        ref = tx.store_file(devpi_path, io.BytesIO(content))
        assert tx.file_info(ref.path) == ref
    assert ref.sha256 == sha256
    assert ref.size == len(content)
    assert ref.path == devpi_path(sha256)
    with store.transaction() as tx:
        assert tx.file_info(ref.path) == ref
    with store.open_file(ref.path) as fp:
        assert fp.read() == content


def test_store_file_twice_keeps_the_last(store):
    with store.transaction(write=True) as tx:
        tx.store_file("a/b.txt", io.BytesIO(b"first"))
        ref = tx.store_file("a/b.txt", io.BytesIO(b"second"))
    assert ref.size == 6
    with store.transaction() as tx:
        assert tx.file_info("a/b.txt") == ref
    with store.open_file("a/b.txt") as fp:
        assert fp.read() == b"second"


def test_replace_a_committed_file(store):
    _store_blob(store, "a/b.txt", b"old")
    ref = _store_blob(store, "a/b.txt", b"new content")
    with store.transaction() as tx:
        assert tx.file_info("a/b.txt") == ref
    with store.open_file("a/b.txt") as fp:
        assert fp.read() == b"new content"


def test_delete_file(store):
    _store_blob(store, "a/b.txt", b"content")
    _store_blob(store, "a/c.txt", b"other")
    with store.transaction(write=True) as tx:
        tx.delete_file("a/b.txt")
        assert tx.file_info("a/b.txt") is None
        assert tx.file_info("a/c.txt") is not None
    assert store.last_serial() == 2
    with store.transaction() as tx:
        assert tx.file_info("a/b.txt") is None
    with pytest.raises(FileNotFoundError):
        store.open_file("a/b.txt")
    with store.open_file("a/c.txt") as fp:
        assert fp.read() == b"other"


def test_delete_a_file_staged_in_the_same_transaction(store):
    with store.transaction(write=True) as tx:
        tx.store_file("a/b.txt", io.BytesIO(b"content"))
        tx.delete_file("a/b.txt")
        assert tx.file_info("a/b.txt") is None
    with pytest.raises(FileNotFoundError):
        store.open_file("a/b.txt")


@pytest.mark.parametrize("path", INVALID_PATHS)
def test_invalid_file_paths_are_refused(store, path):
    with store.transaction(write=True) as tx:
        with pytest.raises(StorageError):
            tx.store_file(path, io.BytesIO(b"x"))
        with pytest.raises(StorageError):
            tx.store_file(lambda sha256: path, io.BytesIO(b"x"))
        with pytest.raises(StorageError):
            tx.delete_file(path)
    with pytest.raises(StorageError):
        store.open_file(path)
    assert store.last_serial() == -1


def test_wait_for_commit_returns_when_a_commit_arrives(store):
    commit(store, **{"user/alice": {}})
    waiting = threading.Event()

    def wait():
        waiting.set()
        return store.wait_for_commit(1, timeout=30)

    result = {}
    thread = threading.Thread(target=lambda: result.update(serial=wait()))
    thread.start()
    waiting.wait(30)
    commit(store, **{"user/bob": {}})
    thread.join(30)
    assert result["serial"] == 1


def test_wait_for_commit_times_out(store):
    assert store.wait_for_commit(0, timeout=0.05) == -1
    commit(store, **{"user/alice": {}})
    assert store.wait_for_commit(0, timeout=0) == 0
    assert store.wait_for_commit(5, timeout=0.05) == 0


def test_meta_is_kept_outside_the_changelog(store):
    assert store.get_meta("event-serial") is None
    store.set_meta("event-serial", 3)
    store.set_meta("node", {"uuid": "abc", "roles": ["primary"]})
    store.set_meta("event-serial", 4)
    assert store.get_meta("event-serial") == 4
    assert store.get_meta("node") == {"uuid": "abc", "roles": ["primary"]}
    assert store.last_serial() == -1


def test_closed_store_refuses_transactions(store):
    store.close()
    with pytest.raises(StorageError), store.transaction():
        pass


def backends_where(persistent: bool):
    names = [name for name in BACKENDS.names() if (name not in EPHEMERAL_BACKENDS) == persistent]
    return pytest.mark.parametrize("backend", [BACKENDS.get(name) for name in names], ids=names)


@backends_where(persistent=True)
def test_data_survives_close_and_reopen(open_store):
    store = open_store()
    commit(store, **{"user/alice": {"v": 1}, "user/bob": {"v": 1}})
    commit(store, **{"user/bob": None})
    ref = _store_blob(store, "a/b.txt", b"content")
    store.set_meta("event-serial", 1)
    store.close()
    store = open_store()
    assert store.last_serial() == 2
    assert _by_key(store.changelog(1)) == {"user/bob": (None, 0)}
    assert store.get_meta("event-serial") == 1
    with store.transaction() as tx:
        assert tx.at_serial == 2
        assert tx.get("user/alice") == {"v": 1}
        assert tx.keys("user/") == ["user/alice"]
        assert tx.file_info("a/b.txt") == ref
    with store.open_file("a/b.txt") as fp:
        assert fp.read() == b"content"
    assert commit(store, **{"user/carl": {}}) == 3


@backends_where(persistent=False)
def test_ephemeral_backend_starts_empty(open_store):
    store = open_store()
    commit(store, **{"user/alice": {}})
    store.close()
    assert open_store().last_serial() == -1
