"""The file tree under ``+files``: temp files, journaled renames, orphan sweep."""

from __future__ import annotations

import json
import logging
import os
import shutil
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

    Before renaming temp files into place (or removing deleted ones) the journal is
    written and fsync'd. After the database commit it is removed. A journal found at
    start-up belongs to a commit that may not have happened: every path it names that
    the database does not know is removed.
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
        return write_temp_blob(fp, self.tmpdir)

    def begin(self, relpaths: Iterable[str]) -> None:
        """Journal the paths this commit will touch, durably, before touching them."""
        data = json.dumps(sorted(relpaths)).encode()
        tmp = self.journal.with_suffix(".new")
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.journal)
        _fsync_dir(self.root)

    def place(self, relpath: str, blob: TempBlob) -> None:
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(blob.tmppath, target)
        _fsync_dir(target.parent)

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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune_empty_dirs(path: Path, stop: Path) -> None:
    while path != stop and stop in path.parents:
        try:
            path.rmdir()
        except OSError:
            return
        path = path.parent
