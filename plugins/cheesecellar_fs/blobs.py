"""The file tree under ``+files``: temp files, placing blobs, removing them, fsync rounds."""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import os
import secrets
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from cheesecellar.storage import TempBlob
from cheesecellar.storage import check_relpath
from cheesecellar.storage import stage_blob

#: Content up to this size is staged in memory and committed inside the database
#: transaction; larger content goes to a temp file that is synced before the commit.
INLINE_MAX = 128 * 1024


class BlobTree:
    """Blobs live at ``root/<relpath>``; content waiting for a commit lives in ``.tmp``.

    Nothing here decides when a change counts: the store records every placement in the
    database commit (see ``placements``) and calls these methods around it. Files are
    written to a temp file and renamed, so a reader never sees a partial file.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmpdir = root / ".tmp"
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        self._root, self._tmp = str(root), str(self.tmpdir)
        # Names for the temp files of write(), unique to this instance.
        self._prefix = f"put-{secrets.token_hex(6)}-"
        self._numbers = itertools.count()

    def path(self, relpath: str) -> Path:
        return self.root / check_relpath(relpath)

    def open(self, relpath: str) -> BinaryIO:
        return open(self.path(relpath), "rb")

    def stage(self, fp: BinaryIO) -> TempBlob:
        """Small content stays in memory; larger content goes to an unsynced temp file."""
        return stage_blob(fp, self.tmpdir, INLINE_MAX)

    def place(self, relpath: str, tmppath: Path | str) -> list[str]:
        """Rename a temp file into place; return the directories to sync."""
        target = os.path.join(self._root, check_relpath(relpath))
        parent = os.path.dirname(target)
        try:
            os.replace(tmppath, target)
            return [parent]
        except FileNotFoundError:
            if not os.path.exists(tmppath):
                raise
        changed = _make_dirs(parent)
        os.replace(tmppath, target)
        return [*changed, parent]

    def write(self, relpath: str, data: bytes) -> list[str]:
        """Write ``data`` at ``relpath`` through a temp file, unsynced; return what to sync
        (the file and the directories that changed)."""
        tmpname = f"{self._tmp}/{self._prefix}{next(self._numbers)}"
        # The umask decides who may read blobs (a web server may send them from disk).
        fd = os.open(tmpname, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with open(fd, "wb") as out:
                out.write(data)
            changed = self.place(relpath, tmpname)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmpname)
            raise
        return [os.path.join(self._root, relpath), *changed]

    def remove(self, relpath: str) -> list[str]:
        """Remove a blob and the directories it leaves empty; return the directory to sync."""
        target = os.path.join(self._root, check_relpath(relpath))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        return [_prune_empty_dirs(os.path.dirname(target), self._root)]

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
_pools: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _fsync_path(path: str | Path, missing_ok: bool) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_all(
    paths: Iterable[str | Path], *, missing_ok: bool = False, pool: str = "commit"
) -> None:
    """fsync files and directories concurrently and wait for all of them.

    One fsync waits for a journal commit of the file system; fsyncs that wait at the same
    time share commits, so a commit of several files waits about as long as for one.
    ``missing_ok`` skips paths that no longer exist (removed since they were written).
    Work in the background names its own ``pool``, so that commits never queue behind it.
    """
    paths = list(dict.fromkeys(paths))
    if len(paths) <= 1:
        for path in paths:
            _fsync_path(path, missing_ok)
        return
    executor = _pool(pool)
    futures = [executor.submit(_fsync_path, path, missing_ok) for path in paths]
    concurrent.futures.wait(futures)
    for future in futures:
        future.result()  # raises the first failure, after every fsync has finished


def _pool(name: str) -> concurrent.futures.ThreadPoolExecutor:
    with _pools_lock:
        if name not in _pools:
            _pools[name] = concurrent.futures.ThreadPoolExecutor(
                _SYNC_THREADS, thread_name_prefix=f"cellar-fsync-{name}"
            )
        return _pools[name]


def _make_dirs(path: str) -> list[str]:
    """Create ``path`` and its missing parents; return the directories that got entries."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    changed = []
    for directory in reversed(missing):
        os.mkdir(directory)
        changed.append(os.path.dirname(directory))
    return changed


def _prune_empty_dirs(path: str, stop: str) -> str:
    """Remove empty directories from ``path`` up to ``stop``; return the first one kept."""
    while path != stop and path.startswith(stop + "/"):
        try:
            os.rmdir(path)
        except OSError:
            return path
        path = os.path.dirname(path)
    return path
