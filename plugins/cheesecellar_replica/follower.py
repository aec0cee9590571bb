"""A replica's follower thread: long-polls the primary's changelog and imports it in order."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

from cheesecellar.storage import FileRef
from cheesecellar.storage import StorageError
from cheesecellar_replica.client import PrimaryError
from cheesecellar_replica.client import PrimaryRefused

log = logging.getLogger(__name__)

#: Seconds to wait after the first failure; doubled for each further one, up to the cap.
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0


class WrongPrimary(Exception):
    """The server at the primary URL is not the primary this replica follows."""


class PrimaryIdentity:
    """The uuid of the primary: learnt on first contact (kept in ``.nodeinfo``), then
    required of every answer."""

    def __init__(self, registry) -> None:
        self.registry = registry

    @property
    def uuid(self) -> str | None:
        return self.registry.cellar_nodeinfo.primary_uuid

    def check(self, uuid: str, url: str) -> None:
        known = self.uuid
        if known == uuid:
            return
        if known is not None:
            raise WrongPrimary(
                f"the server at {url} has uuid {uuid}, but this replica follows the primary "
                f"{known}; it keeps serving what it has. Give --primary-url of that primary, "
                "or start a new replica in an empty --serverdir"
            )
        node = dataclasses.replace(self.registry.cellar_nodeinfo, primary_uuid=uuid)
        node.save(self.registry.cellar_settings.serverdir)
        self.registry.cellar_nodeinfo = node
        log.warning("following the primary %s at %s", uuid, url)


class Follower:
    """Follows the changelog in a thread; ``state`` says how that goes, for ``/+status``."""

    def __init__(self, storage, client, files, identity: PrimaryIdentity, poll_wait: float):
        self.storage = storage
        self.client = client
        self.files = files
        self.identity = identity
        self.poll_wait = poll_wait
        self.state = "starting"
        self.problem: str | None = None
        self.primary_serial: int | None = None
        self.primary_contacted_at: float | None = None
        self.updated_at: float | None = None
        self.in_sync_at: float | None = None
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cellar-replica", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            problem = self._step_safely()
            if problem is None:
                failures = 0
                continue
            failures += 1
            self._stop.wait(min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_CAP))

    def _step_safely(self) -> str | None:
        """One round; None when it went well, else the state it left the follower in."""
        try:
            self.step()
        except PrimaryRefused as exc:
            return self._trouble(
                "refused",
                f"primary refused our token: check that both use the same --secretfile ({exc})",
            )
        except WrongPrimary as exc:
            return self._trouble("wrong-primary", str(exc))
        except PrimaryError as exc:
            return self._trouble("unreachable", str(exc))
        except StorageError as exc:
            return self._trouble("import-failed", f"cannot import the primary's changes: {exc}")
        except Exception as exc:
            log.exception("replication failed")
            return self._trouble("failing", f"{type(exc).__name__}: {exc}")
        return None

    def step(self) -> None:
        """Ask for the serials after ours (waiting for one) and import what comes."""
        since = self.storage.last_serial() + 1
        answer = self.client.changes(since, wait=self.poll_wait)
        self.primary_contacted_at = time.time()
        self.identity.check(answer.primary_uuid, self.client.url)
        self.primary_serial = answer.serial
        if answer.serial < since - 1:
            raise WrongPrimary(
                f"the primary is at serial {answer.serial}, behind this replica's {since - 1} "
                "(restored from an older backup?); nothing is imported until it catches up"
            )
        if answer.entries:
            self.storage.import_changes(answer.entries)
            self.updated_at = time.time()
            self._queue_files(answer.entries)
        if self.storage.last_serial() >= answer.serial:
            self.in_sync_at = time.time()
        self._set_state("following", None)

    def _queue_files(self, entries) -> None:
        """Queue each path's newest content, with the serial that named it."""
        latest: dict[str, tuple[FileRef | None, int]] = {}
        for entry in entries:
            for change in entry.files:
                ref = None if change.sha256 is None else FileRef(*dataclasses.astuple(change))
                latest[change.path] = (ref, entry.serial)
        if not any(ref for ref, _serial in latest.values()):
            return
        pending = set(self.storage.pending_files())
        for ref, serial in latest.values():
            if ref is not None and ref in pending:
                self.files.add(ref, serial=serial)

    def _trouble(self, state: str, problem: str) -> str:
        self.errors += 1
        self._set_state(state, problem)
        return state

    def _set_state(self, state: str, problem: str | None) -> None:
        """Log a change of state once, not every attempt."""
        previous, self.state, self.problem = self.state, state, problem
        if state == previous:
            return
        if problem is not None:
            level = logging.ERROR if state in ("refused", "wrong-primary") else logging.WARNING
            log.log(level, "replication %s: %s", state, problem)
        elif previous != "starting":
            log.warning("replication following the primary again (was %s)", previous)
        else:
            log.info("replication following the primary at %s", self.client.url)

    def lag(self) -> int | None:
        if self.primary_serial is None:
            return None
        return max(0, self.primary_serial - self.storage.last_serial())
