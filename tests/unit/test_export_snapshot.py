"""The read-only snapshot of an fs server directory, blob copies, and all-or-nothing directories."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest

from cheesecellar.config import ConfigError
from cheesecellar_export.blobcopy import BlobChanged
from cheesecellar_export.blobcopy import BlobCopier
from cheesecellar_export.staging import StagedDir
from cheesecellar_fs.blobs import INLINE_MAX
from cheesecellar_fs.readonly import ReadOnlySnapshot
from cheesecellar_fs.store import DB_NAME
from cheesecellar_fs.store import FsStorage

SMALL = b"small blob"
LARGE = os.urandom(INLINE_MAX + 1000)


@pytest.fixture
def store(tmp_path):
    storage = FsStorage(tmp_path / "server")
    yield storage
    storage.close()


def commit(storage, key: str, **blobs: bytes) -> int:
    with storage.transaction(write=True) as tx:
        tx.set(key, {"blobs": sorted(blobs)})
        for path, content in blobs.items():
            tx.store_file(path, io.BytesIO(content))
    storage.wait_for_files()
    return storage.last_serial()


def read(snapshot, path: str) -> bytes:
    with snapshot.open_blob(path) as fp:
        return fp.read()


def test_snapshot_stays_at_its_serial_while_the_server_writes(store, tmp_path):
    serial = commit(store, "plugin/one", small=SMALL)
    snapshot = ReadOnlySnapshot(tmp_path / "server")
    try:
        commit(store, "plugin/two", large=LARGE)
        assert snapshot.serial == serial
        assert snapshot.keys("plugin/") == ["plugin/one"]
        assert snapshot.get("plugin/one") == {"blobs": ["small"]}
        assert snapshot.get("plugin/two") is None
        assert snapshot.file_info("small").sha256 == hashlib.sha256(SMALL).hexdigest()
        assert snapshot.file_info("large") is None
        assert read(snapshot, "small") == SMALL
    finally:
        snapshot.close()
    assert store.last_serial() == serial + 1


def test_snapshot_refuses_to_write(store, tmp_path):
    commit(store, "plugin/one", small=SMALL)
    snapshot = ReadOnlySnapshot(tmp_path / "server")
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            snapshot._conn.execute("DELETE FROM records")
    finally:
        snapshot.close()


def unsettle(serverdir: Path, path: str, inline: bool) -> Path | None:
    """Put a committed blob back into the state between its commit and its placement: a
    placements row with its content, or with a synced temp file (returned)."""
    blob = serverdir / "+files" / path
    content = blob.read_bytes()
    tmpname = None
    if not inline:
        tmpname = f"blob-test-{path}"
        os.rename(blob, serverdir / "+files" / ".tmp" / tmpname)
    else:
        blob.unlink()
    with sqlite3.connect(serverdir / DB_NAME) as conn:
        conn.execute(
            "INSERT INTO placements (path, serial, sha256, content, tmpname) "
            "VALUES (?, 0, ?, ?, ?)",
            (path, hashlib.sha256(content).hexdigest(), content if inline else None, tmpname),
        )
    return None if tmpname is None else serverdir / "+files" / ".tmp" / tmpname


def test_blobs_not_yet_placed_are_read_from_their_placement(tmp_path):
    serverdir = tmp_path / "server"
    storage = FsStorage(serverdir)
    commit(storage, "plugin/one", small=SMALL, large=LARGE)
    storage.close()
    unsettle(serverdir, "small", inline=True)
    tmpfile = unsettle(serverdir, "large", inline=False)
    snapshot = ReadOnlySnapshot(serverdir)
    try:
        assert read(snapshot, "small") == SMALL
        assert read(snapshot, "large") == LARGE
        assert snapshot.blob_path("large") is None  # nothing settled to link to
    finally:
        snapshot.close()
    # Unlike opening the store, the snapshot redid nothing and swept nothing.
    assert tmpfile.exists()
    assert not (serverdir / "+files" / "large").exists()
    with sqlite3.connect(serverdir / DB_NAME) as conn:
        assert conn.execute("SELECT count(*) FROM placements").fetchone()[0] == 2


def test_a_blob_removed_after_the_snapshot_is_reported_as_changed(store, tmp_path):
    commit(store, "plugin/one", small=SMALL)
    snapshot = ReadOnlySnapshot(tmp_path / "server")
    try:
        with store.transaction(write=True) as tx:
            tx.delete_file("small")
        store.wait_for_files()
        copier = BlobCopier(tmp_path / "export", False, print)
        with pytest.raises(BlobChanged, match="small is missing"):
            copier.add(snapshot, snapshot.file_info("small"))
    finally:
        snapshot.close()


def test_a_blob_changed_on_disk_is_reported_and_not_kept(store, tmp_path):
    commit(store, "plugin/one", large=LARGE)
    (tmp_path / "server" / "+files" / "large").write_bytes(b"x" * len(LARGE))
    snapshot = ReadOnlySnapshot(tmp_path / "server")
    try:
        for hard_links in (False, True):
            copier = BlobCopier(tmp_path / "export", hard_links, print)
            with pytest.raises(BlobChanged, match="has sha256"):
                copier.add(snapshot, snapshot.file_info("large"))
            assert not (tmp_path / "export" / "large").exists()
    finally:
        snapshot.close()


def test_hard_links_and_copies(store, tmp_path):
    commit(store, "plugin/one", large=LARGE)
    snapshot = ReadOnlySnapshot(tmp_path / "server")
    try:
        linker = BlobCopier(tmp_path / "linked", True, print)
        linker.add(snapshot, snapshot.file_info("large"))
        copier = BlobCopier(tmp_path / "copied", False, print)
        copier.add(snapshot, snapshot.file_info("large"))
    finally:
        snapshot.close()
    original = tmp_path / "server" / "+files" / "large"
    assert (tmp_path / "linked" / "large").stat().st_ino == original.stat().st_ino
    assert (tmp_path / "copied" / "large").stat().st_ino != original.stat().st_ino
    assert (linker.linked, copier.copied) == (1, 1)


@pytest.mark.skipif(
    not os.path.isdir("/dev/shm")
    or os.stat("/dev/shm").st_dev == os.stat(tempfile.gettempdir()).st_dev,
    reason="needs a second file system",
)
def test_hard_links_across_file_systems_fall_back_to_copies_with_one_notice(store, tmp_path):
    commit(store, "plugin/one", small=SMALL, large=LARGE)
    notices = []
    snapshot = ReadOnlySnapshot(tmp_path / "server")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        try:
            copier = BlobCopier(Path(other), True, notices.append)
            copier.add(snapshot, snapshot.file_info("small"))
            copier.add(snapshot, snapshot.file_info("large"))
        finally:
            snapshot.close()
        assert (Path(other) / "large").read_bytes() == LARGE
    assert (copier.linked, copier.copied) == (0, 2)
    assert len(notices) == 1
    assert "copying instead" in notices[0]


# --- staged directories --------------------------------------------------------------------


def test_a_missing_target_appears_whole(tmp_path):
    staged = StagedDir(tmp_path / "dump", "export directory")
    (staged.area / "files").mkdir()
    (staged.area / "doc.json").write_text("{}")
    assert not (tmp_path / "dump").exists()
    staged.commit(last="doc.json")
    assert sorted(p.name for p in (tmp_path / "dump").iterdir()) == ["doc.json", "files"]
    assert [p.name for p in tmp_path.iterdir()] == ["dump"]


def test_an_empty_target_is_filled_from_inside(tmp_path):
    target = tmp_path / "volume"
    target.mkdir()
    (target / ".secret").write_text("s")
    staged = StagedDir(target, "server directory", frozenset({".secret"}))
    assert staged.area.parent == target
    (staged.area / ".nodeinfo").write_text("{}")
    (staged.area / "data").write_text("d")
    staged.commit(last=".nodeinfo")
    assert sorted(p.name for p in target.iterdir()) == [".nodeinfo", ".secret", "data"]


def test_discard_leaves_the_target_as_it_was(tmp_path):
    for target in (tmp_path / "missing", tmp_path / "empty"):
        if target.name == "empty":
            target.mkdir()
        staged = StagedDir(target, "export directory")
        (staged.area / "half").write_text("h")
        staged.discard()
        assert target.exists() == (target.name == "empty")
        assert not target.exists() or list(target.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_a_target_with_content_is_refused(tmp_path):
    (tmp_path / "dump").mkdir()
    (tmp_path / "dump" / "x").write_text("x")
    with pytest.raises(ConfigError, match="is not empty"):
        StagedDir(tmp_path / "dump", "export directory")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        StagedDir(tmp_path / "file", "export directory")


def test_a_new_attempt_keeps_checked_copies_and_drops_unlisted_ones(store, tmp_path):
    commit(store, "plugin/one", small=SMALL, large=LARGE)
    snapshot = ReadOnlySnapshot(tmp_path / "server")
    try:
        copier = BlobCopier(tmp_path / "export", False, print)
        small, large = snapshot.file_info("small"), snapshot.file_info("large")
        copier.add(snapshot, small)
        copier.add(snapshot, large)
        copier.add(snapshot, small)  # the next attempt lists it again: not copied twice
        copier.prune({"large": large})
    finally:
        snapshot.close()
    assert copier.copied == 2
    assert not (tmp_path / "export" / "small").exists()
    assert (tmp_path / "export" / "large").read_bytes() == LARGE
