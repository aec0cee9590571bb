"""One server per server directory: an exclusive lock held while the directory is open."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from cheesecellar.config import ConfigError

LOCK_NAME = ".lock"


class DirectoryLock:
    """``fcntl`` lock on ``SERVERDIR/.lock``; the kernel drops it when the process ends,
    so a crashed server leaves nothing to clean up."""

    def __init__(self, serverdir: Path) -> None:
        self.path = Path(serverdir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> DirectoryLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"server directory {self.path.parent} is in use by another server "
                f"(pid {holder}); stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
