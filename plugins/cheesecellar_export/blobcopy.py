"""Copy (or hard-link) a snapshot's blobs into an export, checking each one's sha256."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path

from cheesecellar.storage import FileRef

CHUNK = 1024 * 1024


class BlobChanged(Exception):
    """A blob is not (or no longer) what the snapshot says: the server changed it meanwhile."""


class BlobCopier:
    """Writes blobs under ``root``; with ``hard_links`` links the server's files instead,
    falling back to copies (with one notice) where the file systems differ."""

    def __init__(self, root: Path, hard_links: bool, notice: Callable[[str], None]) -> None:
        self.root = root
        self.hard_links = hard_links
        self.notice = notice
        self.linked = 0
        self.copied = 0
        #: The blobs written so far, checked (kept when an export starts again).
        self.done: dict[str, FileRef] = {}

    def add(self, snapshot, ref: FileRef) -> None:
        if self.done.get(ref.path) == ref:
            return
        target = self.root / ref.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        source = snapshot.blob_path(ref.path) if self.hard_links else None
        if source is not None and self._link(source, target):
            digests, size = file_digests(target)
            _check(ref, digests["sha256"], size, target)
            self.linked += 1
        else:
            self._copy(snapshot, ref, target)
            self.copied += 1
        self.done[ref.path] = ref

    def prune(self, wanted: Mapping[str, FileRef]) -> None:
        """Remove the blobs written earlier that ``wanted`` no longer lists."""
        for path in [path for path in self.done if path not in wanted]:
            (self.root / path).unlink(missing_ok=True)
            del self.done[path]

    def _link(self, source: Path, target: Path) -> bool:
        try:
            os.link(source, target)
        except FileNotFoundError:
            return False  # removed or not yet placed: the copy tells which
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
            self.hard_links = False
            self.notice(f"cannot hard-link into {self.root} ({exc.strerror}): copying instead")
            return False
        return True

    def _copy(self, snapshot, ref: FileRef, target: Path) -> None:
        try:
            source = snapshot.open_blob(ref.path)
        except FileNotFoundError as exc:
            raise BlobChanged(f"{ref.path} is missing from the file tree ({exc})") from None
        digest, size = hashlib.sha256(), 0
        with source, open(target, "wb") as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        _check(ref, digest.hexdigest(), size, target)


def file_digests(path: Path, names=("sha256",)) -> tuple[dict[str, str], int]:
    """The hex digests (``hashlib`` names) of a file's content and its size, in one read."""
    hashers = {name: hashlib.new(name) for name in names}
    size = 0
    with open(path, "rb") as fp:
        while chunk := fp.read(CHUNK):
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}, size


def _check(ref: FileRef, sha256: str, size: int, target: Path) -> None:
    if (sha256, size) != (ref.sha256, ref.size):
        target.unlink()
        raise BlobChanged(
            f"{ref.path} has sha256 {sha256} ({size} bytes) on disk, "
            f"the database says {ref.sha256} ({ref.size} bytes)"
        )
