"""All-or-nothing directories: an export or a server directory appears whole or not at all."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from cheesecellar.config import ConfigError

#: Entries an empty server directory may hold: its secret, and the lock of a server.
SERVER_DIR_ALLOWED = frozenset({".secret", ".lock"})


def _entries(path: Path) -> list[str]:
    return sorted(os.listdir(path)) if path.is_dir() else []


class StagedDir:
    """A directory built in a staging area and moved into ``target`` at the end.

    A missing ``target`` is built as a sibling and renamed into place. An existing empty
    one (perhaps a mount point, which cannot be replaced) gets a staging directory inside
    it, whose entries are moved up one by one, ``last`` at the very end. :meth:`discard`
    leaves ``target`` as it was before.
    """

    def __init__(self, target: Path, label: str, allowed: frozenset[str] = frozenset()) -> None:
        self.target = target
        self.label = label
        self.allowed = allowed
        self.created = not target.exists()
        self.check_empty(target, label, allowed)
        token = secrets.token_hex(4)
        if self.created:
            self.area = target.parent / f".{target.name}.partial-{token}"
        else:
            self.area = target / f".partial-{token}"
        self.area.mkdir(parents=True)

    @staticmethod
    def check_empty(target: Path, label: str, allowed: frozenset[str] = frozenset()) -> None:
        """Refuse a ``target`` that is not a directory, or holds more than ``allowed``."""
        if not target.exists():
            return
        if not target.is_dir():
            raise ConfigError(f"{label} {target} exists and is not a directory")
        extra = [name for name in _entries(target) if name not in allowed]
        if extra:
            raise ConfigError(f"{label} {target} is not empty (it holds {extra[0]})")

    def commit(self, last: str | None = None) -> None:
        """Move the staged content into place (``last``, if given, as the final step)."""
        if self.created:
            os.rename(self.area, self.target)
            return
        names = [name for name in _entries(self.area) if name != last]
        if last is not None and (self.area / last).exists():
            names.append(last)
        moved = []
        try:
            for name in names:
                os.rename(self.area / name, self.target / name)
                moved.append(name)
        except BaseException:
            for name in moved:
                os.rename(self.target / name, self.area / name)
            raise
        self.area.rmdir()

    def discard(self) -> None:
        shutil.rmtree(self.area, ignore_errors=True)
