"""The trigger journal in the server directory: pending deliveries and the delivery log.

Each pending delivery is one small JSON file, written atomically before the commit
hook returns and removed once the delivery succeeded or failed for good, so pending
deliveries survive a restart. The log keeps every attempt (the newest ``LOG_KEEP`` at
least) as JSON lines. Files are readable by the server's user only: pending deliveries
hold the URLs with their credentials.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Any

from cheesecellar_jenkins.detect import Upload

log = logging.getLogger(__name__)

JOURNAL_DIR = ".triggers"
PENDING_DIR = "pending"
STATE_FILE = "state.json"
LOG_FILE = "deliveries.jsonl"
#: Attempts the log keeps at least; it is cut back to this when it holds twice as many.
LOG_KEEP = 1000


@dataclasses.dataclass
class Delivery:
    """One upload to deliver to one target (a Jenkins job or a webhook)."""

    id: str
    kind: str  # "jenkins" or "webhook"
    url: str  # as configured, credentials included
    upload: Upload
    created: float
    attempts: int = 0
    next_at: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "upload": self.upload.as_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Delivery:
        return cls(**{**data, "upload": Upload.from_json(data["upload"])})


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically and durably with ``text``; mode 0600."""
    fd, tmpname = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmpname, path)
    except BaseException:
        Path(tmpname).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class Journal:
    """Pending deliveries, the last serial queued, and the delivery log."""

    def __init__(self, serverdir: Path) -> None:
        self.directory = Path(serverdir) / JOURNAL_DIR
        self.pending_dir = self.directory / PENDING_DIR
        self._lock = threading.Lock()
        self._log_lines: int | None = None

    def _ensure(self) -> None:
        if not self.pending_dir.is_dir():
            self.pending_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)

    # --- pending deliveries -----------------------------------------------------------

    def queued_serial(self) -> int:
        """The last serial whose uploads were queued (-1: none yet)."""
        try:
            return int(json.loads((self.directory / STATE_FILE).read_text())["queued-serial"])
        except FileNotFoundError:
            return -1
        except (ValueError, KeyError, TypeError):
            log.warning("trigger journal: unreadable %s; starting over", STATE_FILE)
            return -1

    def add(self, deliveries: list[Delivery], serial: int) -> None:
        """Write ``deliveries``, then mark ``serial`` queued."""
        with self._lock:
            self._ensure()
            for delivery in deliveries:
                self._write(delivery)
            state = json.dumps({"queued-serial": serial}) + "\n"
            write_private(self.directory / STATE_FILE, state)

    def update(self, delivery: Delivery) -> None:
        with self._lock:
            self._write(delivery)

    def remove(self, delivery: Delivery) -> None:
        with self._lock:
            (self.pending_dir / f"{delivery.id}.json").unlink(missing_ok=True)

    def _write(self, delivery: Delivery) -> None:
        path = self.pending_dir / f"{delivery.id}.json"
        write_private(path, json.dumps(delivery.as_json(), sort_keys=True) + "\n")

    def pending(self) -> list[Delivery]:
        """Every pending delivery, oldest first; an unreadable file is set aside."""
        found = []
        with self._lock:
            if not self.pending_dir.is_dir():
                return []
            for path in sorted(self.pending_dir.glob("*.json")):
                try:
                    found.append(Delivery.from_json(json.loads(path.read_text())))
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    log.error("trigger journal: cannot read %s (%s); set aside", path.name, exc)
                    path.replace(path.with_suffix(".unreadable"))
        return sorted(found, key=lambda d: (d.created, d.id))

    # --- the delivery log -------------------------------------------------------------

    def record(self, entry: dict[str, Any]) -> None:
        """Append one attempt to the log; cut the log back when it grew too long."""
        with self._lock:
            self._ensure()
            path = self.directory / LOG_FILE
            if self._log_lines is None:
                self._log_lines = len(self._read_log())
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry, sort_keys=True) + "\n")
            self._log_lines += 1
            if self._log_lines > 2 * LOG_KEEP:
                kept = self._read_log()[-LOG_KEEP:]
                write_private(path, "".join(json.dumps(e, sort_keys=True) + "\n" for e in kept))
                self._log_lines = len(kept)

    def _read_log(self) -> list[dict[str, Any]]:
        try:
            lines = (self.directory / LOG_FILE).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines:
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash
        return entries

    def recent(self, index: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` attempts for ``index``, newest first."""
        with self._lock:
            entries = self._read_log()
        found: deque = deque(maxlen=limit)
        for entry in entries:
            if entry.get("index") == index:
                found.append(entry)
        return list(reversed(found))
