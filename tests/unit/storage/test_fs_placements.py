"""The fs backend's placements: files committed with the database, on disk after it, and
what start-up makes of a crash at each step."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from cheesecellar_fs import blobs
from cheesecellar_fs import placements
from cheesecellar_fs.store import DB_NAME
from cheesecellar_fs.store import FsStorage

SMALL = b"small content, committed inside the database"
#: Larger than the limit the tests set, so it goes through a synced temp file.
LARGE = b"L" * 4096


@pytest.fixture(autouse=True)
def small_limit(monkeypatch):
    """Content above 1 KiB counts as large, so tests can use both kinds cheaply."""
    monkeypatch.setattr(blobs, "INLINE_MAX", 1024)


@pytest.fixture
def basedir(tmp_path):
    return tmp_path / "server"


def store_blob(store, path, content):
    with store.transaction(write=True) as tx:
        return tx.store_file(path, io.BytesIO(content))


def delete_blob(store, path):
    with store.transaction(write=True) as tx:
        tx.delete_file(path)


def on_disk(basedir) -> dict[str, bytes]:
    root = basedir / "+files"
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".tmp" not in p.parts
    }


def temp_files(basedir) -> list[str]:
    return sorted(p.name for p in (basedir / "+files" / ".tmp").iterdir())


def pending_rows(basedir) -> list[tuple]:
    conn = sqlite3.connect(basedir / DB_NAME)
    try:
        return conn.execute("SELECT path, sha256 IS NULL FROM placements ORDER BY path").fetchall()
    finally:
        conn.close()


def read_blob(store, path) -> bytes:
    with store.open_file(path) as fp:
        return fp.read()


class Halted:
    """Stands in for the background thread: placements are taken and never done, as if
    the process died right after the commit."""

    def __init__(self, store) -> None:
        self.batches = []
        store.placements._settle = self.batches.append


def test_small_content_is_committed_in_the_database_and_then_placed(basedir):
    store = FsStorage(basedir)
    try:
        Halted(store)
        store_blob(store, "a/small.txt", SMALL)
        store.placements.drain()
        assert on_disk(basedir) == {}
        assert temp_files(basedir) == []  # nothing for it was written to disk
        assert read_blob(store, "a/small.txt") == SMALL  # served before it is on disk
    finally:
        store.close()
    store = FsStorage(basedir)
    try:
        assert on_disk(basedir) == {"a/small.txt": SMALL}
        assert pending_rows(basedir) == []
    finally:
        store.close()


def test_placements_are_done_in_the_background_and_their_rows_deleted(basedir):
    store = FsStorage(basedir)
    try:
        store_blob(store, "a/small.txt", SMALL)
        store_blob(store, "a/large.bin", LARGE)
        store.placements.drain()
        assert on_disk(basedir) == {"a/small.txt": SMALL, "a/large.bin": LARGE}
        assert pending_rows(basedir) == []
        assert temp_files(basedir) == []
    finally:
        store.close()


def test_large_content_waits_in_a_temp_file_until_placed(basedir):
    store = FsStorage(basedir)
    try:
        halted = Halted(store)
        store_blob(store, "a/large.bin", LARGE)
        store.placements.drain()
        assert len(halted.batches) == 1
        assert on_disk(basedir) == {}
        assert len(temp_files(basedir)) == 1
        assert read_blob(store, "a/large.bin") == LARGE  # read from the temp file
    finally:
        store.close()
    FsStorage(basedir).close()
    assert on_disk(basedir) == {"a/large.bin": LARGE}
    assert temp_files(basedir) == []


def test_reads_follow_the_commit_before_the_file_tree_does(basedir):
    store = FsStorage(basedir)
    try:
        store_blob(store, "a/replaced.txt", b"old")
        store_blob(store, "a/removed.txt", b"removed")
        store.wait_for_files()
        Halted(store)
        store_blob(store, "a/replaced.txt", b"new")
        delete_blob(store, "a/removed.txt")
        assert on_disk(basedir) == {"a/replaced.txt": b"old", "a/removed.txt": b"removed"}
        assert read_blob(store, "a/replaced.txt") == b"new"
        with pytest.raises(FileNotFoundError):
            store.open_file("a/removed.txt")
    finally:
        store.close()


class WatchedLock:
    """A lock that tells when a thread other than ``owner`` starts waiting for it."""

    def __init__(self, lock) -> None:
        self.lock = lock
        self.owner = None
        self.other_waits = threading.Event()

    def __enter__(self):
        if self.owner is not None and threading.get_ident() != self.owner:
            self.other_waits.set()
        self.lock.acquire()
        self.owner = threading.get_ident()

    def __exit__(self, *exc):
        self.owner = None
        self.lock.release()


def test_a_reader_that_sees_a_commit_early_waits_for_its_placements(basedir):
    store = FsStorage(basedir)
    committed, release = threading.Event(), threading.Event()
    queue = store.placements.apply

    def apply_later(placed):
        committed.set()
        release.wait(30)
        queue(placed)

    store.placements.apply = apply_later
    store._publishing = watched = WatchedLock(store._publishing)
    writer = threading.Thread(target=store_blob, args=(store, "a/x.txt", SMALL))
    writer.start()
    try:
        assert committed.wait(30)
        with store.transaction() as tx:  # the commit is visible, the file is not queued
            assert tx.file_info("a/x.txt") is not None
        result = {}
        reader = threading.Thread(target=lambda: result.update(got=read_blob(store, "a/x.txt")))
        reader.start()
        assert watched.other_waits.wait(30)
        release.set()
        reader.join(30)
        assert result == {"got": SMALL}
    finally:
        release.set()
        writer.join(30)
        store.close()


def test_writers_wait_while_the_background_thread_is_far_behind(basedir, monkeypatch):
    monkeypatch.setattr(placements, "MAX_QUEUED", 2)
    store = FsStorage(basedir)
    go, busy = threading.Event(), threading.Event()
    settle = store.placements._settle

    def blocked_settle(batch):
        busy.set()
        go.wait(30)
        settle(batch)

    store.placements._settle = blocked_settle
    inside = threading.Event()

    def fourth_writer():
        with store.transaction(write=True) as tx:
            inside.set()
            tx.store_file("a/4.txt", io.BytesIO(SMALL))

    try:
        store_blob(store, "a/1.txt", SMALL)
        assert busy.wait(30)  # the thread holds the first placement
        store_blob(store, "a/2.txt", SMALL)
        store_blob(store, "a/3.txt", SMALL)  # two queued behind it: the limit
        writer = threading.Thread(target=fourth_writer)
        writer.start()
        assert not inside.wait(0.5)
        go.set()
        assert inside.wait(30)
        writer.join(30)
        store.wait_for_files()
        assert sorted(on_disk(basedir)) == [f"a/{n}.txt" for n in range(1, 5)]
    finally:
        go.set()
        store.close()


def test_start_up_redoes_a_removal_the_crash_left_undone(basedir):
    store = FsStorage(basedir)
    store_blob(store, "emilie/dev/+f/abc/gone.txt", SMALL)
    store_blob(store, "emilie/dev/kept.txt", b"kept")
    store.placements.drain()
    Halted(store)
    delete_blob(store, "emilie/dev/+f/abc/gone.txt")
    store.close()
    assert "emilie/dev/+f/abc/gone.txt" in on_disk(basedir)
    assert pending_rows(basedir) == [("emilie/dev/+f/abc/gone.txt", 1)]
    FsStorage(basedir).close()
    assert on_disk(basedir) == {"emilie/dev/kept.txt": b"kept"}
    assert not (basedir / "+files" / "emilie" / "dev" / "+f").exists()
    assert pending_rows(basedir) == []


def test_start_up_rewrites_a_placed_file_that_was_not_synced(basedir):
    store = FsStorage(basedir)
    store.placements._forget = lambda done: None  # placed, never confirmed as synced
    store_blob(store, "a/small.txt", SMALL)
    store.close()
    # A power cut can leave a renamed file that was never synced empty or torn.
    (basedir / "+files" / "a" / "small.txt").write_bytes(b"torn")
    FsStorage(basedir).close()
    assert on_disk(basedir) == {"a/small.txt": SMALL}
    assert pending_rows(basedir) == []


def test_a_later_commit_decides_what_start_up_does(basedir):
    store = FsStorage(basedir)
    Halted(store)
    store_blob(store, "a/x.txt", SMALL)
    delete_blob(store, "a/x.txt")
    store_blob(store, "a/y.txt", SMALL)
    delete_blob(store, "a/y.txt")
    store_blob(store, "a/y.txt", b"again")
    store.close()
    FsStorage(basedir).close()
    assert on_disk(basedir) == {"a/y.txt": b"again"}


def test_placements_on_disk_follow_commit_order(basedir):
    store = FsStorage(basedir)
    try:
        for round_ in range(20):
            store_blob(store, "a/flip.txt", SMALL)
            delete_blob(store, "a/flip.txt")
            store_blob(store, f"b/{round_}.txt", SMALL)
        store.placements.drain()
        assert sorted(on_disk(basedir)) == sorted(f"b/{n}.txt" for n in range(20))
        assert pending_rows(basedir) == []
    finally:
        store.close()


def test_a_failed_placement_keeps_the_content_in_the_database(basedir, monkeypatch):
    store = FsStorage(basedir)
    try:

        def refuse(relpath, data):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(store.blobs, "write", refuse)
        store_blob(store, "a/small.txt", SMALL)
        store.placements.drain()
        assert on_disk(basedir) == {}
        assert read_blob(store, "a/small.txt") == SMALL
        assert pending_rows(basedir) == [("a/small.txt", 0)]
    finally:
        store.close()
    monkeypatch.undo()
    FsStorage(basedir).close()
    assert on_disk(basedir) == {"a/small.txt": SMALL}


def test_readers_get_every_file_while_placements_are_under_way(basedir):
    store = FsStorage(basedir)
    failures = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            # Serial N committed file N + 1.
            for number in range(1, store.last_serial() + 2):
                try:
                    content = read_blob(store, f"a/{number}.bin")
                except FileNotFoundError as exc:
                    failures.append(exc)
                    return
                if content != bytes([number % 256]) * (number * 97):
                    failures.append(number)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for number in range(1, 60):
            store_blob(store, f"a/{number}.bin", bytes([number % 256]) * (number * 97))
    finally:
        stop.set()
        thread.join(30)
        store.close()
    assert failures == []


CRASH_SCRIPT = textwrap.dedent(
    """
    import io, os, sys
    from cheesecellar_fs import blobs, store as fsstore
    blobs.INLINE_MAX = 1024
    storage = fsstore.FsStorage(sys.argv[1])
    with storage.transaction(write=True) as tx:
        tx.store_file("a/kept.txt", io.BytesIO(b"kept"))
    storage.placements.drain()
    def crash(*args, **kwargs):
        os._exit(17)
    if sys.argv[2] == "before-commit":
        storage._snapshots.release_idle = crash  # runs right before COMMIT
    else:
        storage.placements.apply = crash  # runs right after COMMIT
    with storage.transaction(write=True) as tx:
        tx.set("version/x", {"v": 1})
        tx.store_file("a/small.txt", io.BytesIO(b"s" * 100))
        tx.store_file("a/large.bin", io.BytesIO(b"L" * 4096))
        tx.delete_file("a/kept.txt")
    """
)


@pytest.mark.parametrize("when", ["before-commit", "after-commit"])
def test_a_process_killed_at_the_commit_loses_nothing_and_leaves_nothing(basedir, when):
    child = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(basedir), when],
        capture_output=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert child.returncode == 17, child.stderr.decode()
    store = FsStorage(basedir)
    try:
        with store.transaction() as tx:
            committed = tx.get("version/x") is not None
            infos = {path: tx.file_info(path) for path in ("a/small.txt", "a/large.bin")}
        if when == "before-commit":
            assert not committed
            assert infos == {"a/small.txt": None, "a/large.bin": None}
            assert on_disk(basedir) == {"a/kept.txt": b"kept"}
        else:
            assert committed
            assert on_disk(basedir) == {"a/small.txt": b"s" * 100, "a/large.bin": LARGE}
        assert temp_files(basedir) == []
        assert pending_rows(basedir) == []
    finally:
        store.close()
