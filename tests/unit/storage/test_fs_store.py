"""The fs backend beyond the shared contract: file layout, WAL mode, temp files."""

from __future__ import annotations

import hashlib
import io
import sqlite3

import pytest

from cheesecellar.storage import StorageError
from cheesecellar_fs.store import DB_NAME
from cheesecellar_fs.store import FsStorage


@pytest.fixture
def basedir(tmp_path):
    return tmp_path / "server"


@pytest.fixture
def store(basedir):
    store = FsStorage(basedir)
    yield store
    store.close()


def store_blob(store, path, content):
    with store.transaction(write=True) as tx:
        return tx.store_file(path, io.BytesIO(content))


def files_on_disk(store):
    """The blobs in the file tree, once the committed placements are done."""
    store.wait_for_files()
    root = store.basedir / "+files"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def devpi_path(sha256: str) -> str:
    return f"emilie/dev/+f/{sha256[:3]}/{sha256[3:16]}/hello-1.0.tar.gz"


def test_files_land_at_the_devpi_layout(store, basedir):
    content = b"hello sdist"
    sha256 = hashlib.sha256(content).hexdigest()
    ref = store_blob(store, devpi_path, content)
    expected = basedir / "+files" / "emilie" / "dev" / "+f" / sha256[:3] / sha256[3:16]
    assert store.file_path(ref.path) == expected / "hello-1.0.tar.gz"
    assert (expected / "hello-1.0.tar.gz").read_bytes() == content
    assert files_on_disk(store) == [ref.path]


def test_wal_mode_is_on(store, basedir):
    conn = sqlite3.connect(basedir / DB_NAME)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_refuses_options(basedir):
    with pytest.raises(StorageError, match="takes no options"):
        FsStorage(basedir, {"path": "x"})


def test_failed_transaction_leaves_no_file(store, basedir):
    with pytest.raises(RuntimeError), store.transaction(write=True) as tx:
        tx.store_file(devpi_path, io.BytesIO(b"content"))
        raise RuntimeError("boom")
    assert files_on_disk(store) == []


def test_failed_commit_leaves_no_file(store, basedir):
    with pytest.raises(TypeError), store.transaction(write=True) as tx:
        tx.store_file("a/b.txt", io.BytesIO(b"content"))
        tx.set("user/alice", {"not json": object()})
    assert files_on_disk(store) == []
    assert list((basedir / "+files" / ".tmp").iterdir()) == []


def test_invalid_computed_path_leaves_no_temp_file(store, basedir):
    with store.transaction(write=True) as tx, pytest.raises(StorageError):
        tx.store_file(lambda sha256: f"../{sha256}", io.BytesIO(b"content"))
    assert files_on_disk(store) == []


def test_replaced_file_in_one_transaction_leaves_one_file(store, basedir):
    with store.transaction(write=True) as tx:
        tx.store_file("a/b.txt", io.BytesIO(b"first"))
        tx.store_file("a/b.txt", io.BytesIO(b"second"))
    assert files_on_disk(store) == ["a/b.txt"]


def test_deleted_file_and_its_empty_folders_go(store, basedir):
    ref = store_blob(store, devpi_path, b"content")
    store_blob(store, "emilie/dev/other.txt", b"other")
    with store.transaction(write=True) as tx:
        tx.delete_file(ref.path)
    assert files_on_disk(store) == ["emilie/dev/other.txt"]
    assert not (basedir / "+files" / "emilie" / "dev" / "+f").exists()


def test_startup_removes_temp_files(basedir):
    FsStorage(basedir).close()
    tmpdir = basedir / "+files" / ".tmp"
    (tmpdir / "blob-left-behind").write_bytes(b"half a file")
    (tmpdir / "somedir").mkdir()
    (tmpdir / "somedir" / "part").write_bytes(b"x")
    store = FsStorage(basedir)
    try:
        assert list(tmpdir.iterdir()) == []
        store_blob(store, "a/b.txt", b"content")
        assert files_on_disk(store) == ["a/b.txt"]
    finally:
        store.close()
