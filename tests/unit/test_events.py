"""The event thread: after-commit hooks in serial order, typed events, resuming after restart."""

from __future__ import annotations

import threading

import pytest

from cheesecellar import hookimpl
from cheesecellar.events import EVENT_SERIAL
from cheesecellar.events import EventDispatcher
from cheesecellar.model import keys
from cheesecellar.plugins import make_plugin_manager
from cheesecellar_fs.store import FsStorage


class Recorder:
    """Remembers every event it is given, in the order it was given."""

    def __init__(self) -> None:
        self.commits: list[tuple[int, list]] = []
        self.typed: list[tuple] = []
        self.thread_names: set[str] = set()

    @hookimpl
    def cellar_on_commit(self, serial, changes):
        self.thread_names.add(threading.current_thread().name)
        self.commits.append((serial, [(c.key, c.value, c.back_serial) for c in changes]))

    @hookimpl
    def cellar_on_user_created(self, username, serial):
        self.typed.append(("user created", username, serial))

    @hookimpl
    def cellar_on_user_deleted(self, username, serial):
        self.typed.append(("user deleted", username, serial))

    @hookimpl
    def cellar_on_index_created(self, indexname, ixconfig, serial):
        self.typed.append(("index created", indexname, ixconfig, serial))

    @hookimpl
    def cellar_on_index_modified(self, indexname, ixconfig, serial):
        self.typed.append(("index modified", indexname, ixconfig, serial))

    @hookimpl
    def cellar_on_index_deleted(self, indexname, serial):
        self.typed.append(("index deleted", indexname, serial))

    def serials(self) -> list[int]:
        return [serial for serial, _changes in self.commits]


class FailsOnSerial:
    """A plugin whose commit hook raises for one serial."""

    def __init__(self, serial: int) -> None:
        self.serial = serial

    @hookimpl
    def cellar_on_commit(self, serial, changes):
        if serial == self.serial:
            raise RuntimeError(f"plugin failed on serial {serial}")


@pytest.fixture
def open_storage(tmp_path):
    opened = []

    def open_():
        storage = FsStorage(tmp_path / "server")
        opened.append(storage)
        return storage

    yield open_
    for storage in opened:
        storage.close()


@pytest.fixture
def start_dispatcher():
    started = []

    def start(storage, *plugins):
        pm = make_plugin_manager(entry_points=False, extra=plugins)
        dispatcher = EventDispatcher(storage, pm)
        dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in started:
        dispatcher.stop()


def commit(storage, **records):
    with storage.transaction(write=True) as tx:
        for key, value in records.items():
            if value is None:
                tx.delete(key)
            else:
                tx.set(key, value)


def wait_until_handled(dispatcher, serial):
    """Wait for the dispatcher to reach ``serial``; the deadline only guards against a hang."""
    storage = dispatcher.storage
    for _ in range(600):
        if dispatcher.handled >= serial:
            return
        storage.wait_for_commit(storage.last_serial() + 1, timeout=0.05)
    raise AssertionError(f"dispatcher stuck at {dispatcher.handled}, expected {serial}")


def user(name):
    return {keys.user(name): {"created": "2024-01-01T00:00:00Z"}}


def test_events_arrive_after_commit_in_serial_order(open_storage, start_dispatcher):
    storage = open_storage()
    recorder = Recorder()
    dispatcher = start_dispatcher(storage, recorder)
    for name in ("alice", "bob", "carl"):
        commit(storage, **user(name))
    commit(storage, **{keys.user("bob"): None})
    wait_until_handled(dispatcher, 3)
    assert recorder.serials() == [0, 1, 2, 3]
    assert recorder.commits[0] == (0, [("user/alice", {"created": "2024-01-01T00:00:00Z"}, -1)])
    assert recorder.commits[3] == (3, [("user/bob", None, 1)])
    assert recorder.thread_names == {"cellar-events"}
    assert storage.get_meta(EVENT_SERIAL) == 3
    assert dispatcher.errors == 0
    assert dispatcher.in_sync_at is not None


def test_typed_events(open_storage, start_dispatcher):
    storage = open_storage()
    recorder = Recorder()
    dispatcher = start_dispatcher(storage, recorder)
    dev = keys.index("alice", "dev")
    commit(storage, **user("alice"))
    commit(storage, **{dev: {"type": "stage", "volatile": True}})
    commit(storage, **{dev: {"type": "stage", "volatile": False}})
    # an update of a user is no typed event
    commit(storage, **{keys.user("alice"): {"created": "2024-01-01T00:00:00Z", "email": "a@x"}})
    commit(storage, **{dev: None})
    commit(storage, **{keys.index("alice", "prod"): {"type": "stage"}})
    commit(storage, **{keys.index("alice", "prod"): None, keys.user("alice"): None})
    commit(storage, **{"something/else": {"x": 1}})
    wait_until_handled(dispatcher, 7)
    assert recorder.typed == [
        ("user created", "alice", 0),
        ("index created", "alice/dev", {"type": "stage", "volatile": True}, 1),
        ("index modified", "alice/dev", {"type": "stage", "volatile": False}, 2),
        ("index deleted", "alice/dev", 4),
        ("index created", "alice/prod", {"type": "stage"}, 5),
        ("index deleted", "alice/prod", 6),
        ("user deleted", "alice", 6),
    ]
    assert recorder.serials() == list(range(8))


def test_a_failing_hook_is_counted_and_later_serials_still_arrive(open_storage, start_dispatcher):
    storage = open_storage()
    recorder = Recorder()
    dispatcher = start_dispatcher(storage, recorder, FailsOnSerial(1))
    for name in ("alice", "bob", "carl"):
        commit(storage, **user(name))
    wait_until_handled(dispatcher, 2)
    assert dispatcher.errors == 1
    assert recorder.typed == [
        ("user created", "alice", 0),
        ("user created", "bob", 1),
        ("user created", "carl", 2),
    ]
    assert 2 in recorder.serials()
    assert storage.get_meta(EVENT_SERIAL) == 2


def test_resumes_after_restart_with_the_missing_serials(open_storage, start_dispatcher):
    storage = open_storage()
    before = Recorder()
    dispatcher = start_dispatcher(storage, before)
    commit(storage, **user("alice"))
    commit(storage, **user("bob"))
    wait_until_handled(dispatcher, 1)
    dispatcher.stop()
    commit(storage, **user("carl"))  # committed while no dispatcher runs
    commit(storage, **user("dora"))
    storage.close()

    storage = open_storage()
    after = Recorder()
    dispatcher = start_dispatcher(storage, after)
    commit(storage, **user("emil"))
    wait_until_handled(dispatcher, 4)
    assert before.serials() == [0, 1]
    assert after.serials() == [2, 3, 4]
    assert [event[1] for event in after.typed] == ["carl", "dora", "emil"]
    assert storage.get_meta(EVENT_SERIAL) == 4


def test_a_new_dispatcher_on_a_handled_store_delivers_nothing(open_storage, start_dispatcher):
    storage = open_storage()
    dispatcher = start_dispatcher(storage, Recorder())
    commit(storage, **user("alice"))
    wait_until_handled(dispatcher, 0)
    dispatcher.stop()
    recorder = Recorder()
    dispatcher = start_dispatcher(storage, recorder)
    assert dispatcher.handled == 0
    commit(storage, **user("bob"))
    wait_until_handled(dispatcher, 1)
    assert recorder.serials() == [1]
