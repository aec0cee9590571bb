"""After-commit events: one thread replays the changelog through the ``cellar_on_*`` hooks."""

from __future__ import annotations

import logging
import threading
import time

from cheesecellar.model import keys
from cheesecellar.storage import Change

log = logging.getLogger(__name__)

EVENT_SERIAL = "event-serial"

__all__ = ["EVENT_SERIAL", "Change", "EventDispatcher"]


def typed_events(change: Change):
    """Yield ``(hook name, kwargs)`` for the typed events one change stands for."""
    parsed = keys.parse(change.key)
    if parsed is None:
        return
    created = change.back_serial < 0
    if parsed.kind == "user":
        (username,) = parsed.parts
        if change.value is None:
            yield "cellar_on_user_deleted", {"username": username}
        elif created:
            yield "cellar_on_user_created", {"username": username}
    elif parsed.kind == "index":
        name = "/".join(parsed.parts)
        if change.value is None:
            yield "cellar_on_index_deleted", {"indexname": name}
        elif created:
            yield "cellar_on_index_created", {"indexname": name, "ixconfig": change.value}
        else:
            yield "cellar_on_index_modified", {"indexname": name, "ixconfig": change.value}


class EventDispatcher:
    """Delivers each committed serial once, in order, and remembers where it stopped.

    The last handled serial is kept in the store's node-local metadata, so a restart
    resumes with the first serial not yet delivered. A failing hook is logged and
    counted; it does not stop later events.
    """

    def __init__(self, storage, pm) -> None:
        self.storage = storage
        self.pm = pm
        self.errors = 0
        self.handled = storage.get_meta(EVENT_SERIAL)
        if self.handled is None:
            self.handled = -1
        self.handled_at: float | None = None
        self.in_sync_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cellar-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.catch_up()
            # short waits so that stop() takes effect quickly
            self.storage.wait_for_commit(self.handled + 1, timeout=0.1)

    def catch_up(self) -> None:
        """Deliver every serial committed after the last one handled."""
        while not self._stop.is_set() and self.handled < self.storage.last_serial():
            self.deliver(self.handled + 1)
        if self.handled >= self.storage.last_serial():
            self.in_sync_at = time.time()

    def deliver(self, serial: int) -> None:
        entry = self.storage.changelog(serial)
        if entry is not None:
            self._call("cellar_on_commit", serial=serial, changes=entry.changes)
            for change in entry.changes:
                for hookname, kwargs in typed_events(change):
                    self._call(hookname, serial=serial, **kwargs)
        self.storage.set_meta(EVENT_SERIAL, serial)
        self.handled = serial
        self.handled_at = time.time()

    def _call(self, hookname: str, **kwargs) -> None:
        try:
            getattr(self.pm.hook, hookname)(**kwargs)
        except Exception:
            self.errors += 1
            log.exception("event hook %s failed for serial %s", hookname, kwargs["serial"])
