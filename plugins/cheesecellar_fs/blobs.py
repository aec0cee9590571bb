"""The file tree under ``+files``: temp files, journaled renames, orphan sweep."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from cheesecellar.storage import TempBlob
from cheesecellar.storage import check_relpath
from cheesecellar.storage import write_temp_blob

log = logging.getLogger(__name__)


class BlobTree:
    """Blobs live at ``root/<relpath>``; a journal names paths touched by an open commit.

    Before renaming temp files into place (or removing deleted ones) the temp files and
    the journal are fsync'd, all at once. After the renames the directories they changed
    are fsync'd, all at once, and only then does the database commit. After the commit
    the journal is removed. A journal found at start-up belongs to a commit that may not
    have happened: every path it names that the database does not know is removed.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmpdir = root / ".tmp"
        self.journal = root / ".journal"
        self.tmpdir.mkdir(parents=True, exist_ok=True)

    def path(self, relpath: str) -> Path:
        return self.root / check_relpath(relpath)

    def open(self, relpath: str) -> BinaryIO:
        return open(self.path(relpath), "rb")

    def write_temp(self, fp: BinaryIO) -> TempBlob:
        # Synced by begin(), together with the other files of the commit.
        return write_temp_blob(fp, self.tmpdir, sync=False)

    def begin(self, relpaths: Iterable[str], temps: Iterable[Path] = ()) -> None:
        """Journal the paths this commit will touch; make the journal and the ``temps``
        that will be renamed durable before anything is touched.

        A crash while the journal is written leaves it unreadable or naming paths that
        were not touched yet; either way no file is lost.
        """
        with open(self.journal, "wb") as out:
            out.write(json.dumps(sorted(relpaths)).encode())
        sync_all([*temps, self.journal, self.root])

    def place(self, relpath: str, blob: TempBlob) -> set[Path]:
        """Rename a synced temp file into place; return the directories to sync."""
        target = self.path(relpath)
        changed = _make_dirs(target.parent)
        os.replace(blob.tmppath, target)
        changed.add(target.parent)
        return changed

    def remove(self, relpath: str) -> None:
        target = self.path(relpath)
        target.unlink(missing_ok=True)
        _prune_empty_dirs(target.parent, self.root)

    def end(self) -> None:
        self.journal.unlink(missing_ok=True)

    def recover(self, is_committed: Callable[[str], bool]) -> int:
        """Remove the paths of an interrupted commit that the database does not know."""
        removed = 0
        if self.journal.exists():
            try:
                relpaths = json.loads(self.journal.read_bytes())
            except ValueError:
                log.error("unreadable file journal %s; keeping all files", self.journal)
                relpaths = []
            for relpath in relpaths:
                if not is_committed(relpath) and self.path(relpath).exists():
                    log.warning("removing orphaned file %s", relpath)
                    self.remove(relpath)
                    removed += 1
            self.end()
        return removed

    def clear_tmp(self) -> int:
        """Remove temp files left by writes that never reached a commit (start-up only)."""
        removed = 0
        for entry in self.tmpdir.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
        return removed


_SYNC_THREADS = 4
_sync_pool: concurrent.futures.ThreadPoolExecutor | None = None
_sync_pool_lock = threading.Lock()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_all(paths: Iterable[Path]) -> None:
    """fsync files and directories concurrently and wait for all of them.

    One fsync waits for a journal commit of the file system; fsyncs that wait at the same
    time share commits, so a commit of several files waits about as long as for one.
    """
    paths = list(dict.fromkeys(paths))
    if len(paths) <= 1:
        for path in paths:
            _fsync_path(path)
        return
    futures = [_pool().submit(_fsync_path, path) for path in paths]
    concurrent.futures.wait(futures)
    for future in futures:
        future.result()  # raises the first failure, after every fsync has finished


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _sync_pool
    with _sync_pool_lock:
        if _sync_pool is None:
            _sync_pool = concurrent.futures.ThreadPoolExecutor(
                _SYNC_THREADS, thread_name_prefix="cellar-fsync"
            )
        return _sync_pool


def _make_dirs(path: Path) -> set[Path]:
    """Create ``path`` and its missing parents; return the directories that got entries."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    changed = set()
    for directory in reversed(missing):
        directory.mkdir()
        changed.add(directory.parent)
    return changed


def _prune_empty_dirs(path: Path, stop: Path) -> None:
    while path != stop and stop in path.parents:
        try:
            path.rmdir()
        except OSError:
            return
        path = path.parent
