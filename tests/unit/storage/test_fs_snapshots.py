"""The fs backend's read snapshots: reused while current, ended before commits, memo per serial."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from cheesecellar_fs.store import DB_NAME
from cheesecellar_fs.store import FsStorage


@pytest.fixture
def store(tmp_path):
    store = FsStorage(tmp_path / "server")
    yield store
    store.close()


def commit(store, **records):
    with store.transaction(write=True) as tx:
        for key, value in records.items():
            tx.set(key, value)


def idle_connections(store) -> list[sqlite3.Connection]:
    return [snapshot.conn for snapshot in store._snapshots._idle]


def test_an_idle_reader_keeps_its_snapshot_while_nothing_is_committed(store):
    commit(store, **{"user/alice": {"v": 1}})
    with store.transaction() as tx:
        assert tx.get("user/alice") == {"v": 1}
    [conn] = idle_connections(store)
    assert conn.in_transaction
    with store.transaction() as tx:
        assert tx.at_serial == 0
    assert idle_connections(store) == [conn]


def test_a_commit_ends_idle_snapshots_and_the_next_reader_sees_it(store):
    commit(store, **{"user/alice": {"v": 1}})
    with store.transaction() as tx:
        tx.get("user/alice")
    commit(store, **{"user/alice": {"v": 2}})
    assert not any(conn.in_transaction for conn in idle_connections(store))
    with store.transaction() as tx:
        assert (tx.at_serial, tx.get("user/alice")) == (1, {"v": 2})


def test_idle_readers_do_not_keep_the_wal_from_being_checkpointed(store, tmp_path):
    for number in range(5):
        commit(store, **{"user/alice": {"v": number}})
        with store.transaction() as tx:
            tx.get("user/alice")
    commit(store, **{"user/alice": {"v": "last"}})
    conn = sqlite3.connect(tmp_path / "server" / DB_NAME)
    try:
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    assert busy == 0


def test_an_older_snapshot_does_not_read_the_newer_serials_records(store):
    commit(store, **{"user/alice": {"v": 1}})
    opened, committed, done = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def old_reader():
        with store.transaction() as tx:
            opened.set()
            committed.wait(10)
            seen["old"] = (tx.at_serial, tx.get("user/alice"))
        done.set()

    thread = threading.Thread(target=old_reader)
    thread.start()
    opened.wait(10)
    commit(store, **{"user/alice": {"v": 2}})
    with store.transaction() as tx:
        seen["new"] = (tx.at_serial, tx.get("user/alice"))
    committed.set()
    done.wait(10)
    thread.join(10)
    assert seen == {"old": (0, {"v": 1}), "new": (1, {"v": 2})}


def test_remembered_records_are_copies(store):
    commit(store, **{"index/alice/dev": {"acl": ["alice"]}})
    with store.transaction() as tx:
        tx.get("index/alice/dev")["acl"].append("mallory")
    with store.transaction() as tx:
        assert tx.get("index/alice/dev") == {"acl": ["alice"]}


def test_memo_keeps_a_bounded_total_of_record_text(monkeypatch):
    from cheesecellar_fs import snapshots

    monkeypatch.setattr(snapshots, "MEMO_TOTAL_CHARS", 10)
    memo = snapshots.SerialMemo(0)
    loads = []

    def load(key):
        loads.append(key)
        return "x" * 6

    memo.record("a", load)
    memo.record("b", load)  # would pass the total: read, but not remembered
    memo.record("a", load)
    memo.record("b", load)
    assert loads == ["a", "b", "b"]
