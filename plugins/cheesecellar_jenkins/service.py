"""The trigger service: queues the uploads of each commit, delivers them from its own threads.

The commit hook only reads the commit, writes the journal and wakes a worker; the HTTP
requests happen in worker threads, with a timeout per attempt and retries with
exponential backoff, so an upload never waits for Jenkins or a webhook receiver.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import threading
import time
import uuid

import requests

from cheesecellar.config import ConfigError
from cheesecellar.model import keys
from cheesecellar_jenkins.detect import Upload
from cheesecellar_jenkins.detect import uploads_in_commit
from cheesecellar_jenkins.ixconfig import JENKINS_KEY
from cheesecellar_jenkins.ixconfig import WEBHOOKS_KEY
from cheesecellar_jenkins.ixconfig import mask_url
from cheesecellar_jenkins.journal import Delivery
from cheesecellar_jenkins.journal import Journal
from cheesecellar_jenkins.payloads import OutgoingRequest
from cheesecellar_jenkins.payloads import ServerInfo
from cheesecellar_jenkins.payloads import iso_time
from cheesecellar_jenkins.payloads import jenkins_request
from cheesecellar_jenkins.payloads import webhook_request
from cheesecellar_jenkins.secret import WebhookSecret
from cheesecellar_jenkins.sender import Outcome
from cheesecellar_jenkins.sender import clean_error
from cheesecellar_jenkins.sender import send

log = logging.getLogger(__name__)

#: The longest wait between two attempts, however many came before.
MAX_BACKOFF = 3600.0
#: Failed attempts in a row after which ``/+status`` warns.
FAILING_AFTER = 3


@dataclasses.dataclass(frozen=True)
class TriggerOptions:
    retries: int = 4  # attempts after the first
    timeout: float = 10.0  # seconds per attempt
    retry_delay: float = 10.0  # seconds before the first retry; doubles each time
    threads: int = 2

    def backoff(self, attempts: int, asked: float | None = None) -> float:
        """Seconds to wait after attempt number ``attempts`` failed."""
        delay = self.retry_delay * 2 ** (attempts - 1)
        return min(max(delay, asked or 0.0), MAX_BACKOFF)


def targets(config: dict) -> list[tuple[str, str]]:
    """``(kind, url)`` of every receiver an index configuration names."""
    found = []
    if isinstance(config.get(JENKINS_KEY), str) and config[JENKINS_KEY]:
        found.append(("jenkins", config[JENKINS_KEY]))
    for url in config.get(WEBHOOKS_KEY) or ():
        if isinstance(url, str):
            found.append(("webhook", url))
    return found


class TriggerService:
    """One per server (primary or standalone): the journal, the queue and the workers."""

    def __init__(
        self,
        storage,
        server: ServerInfo,
        journal: Journal,
        secret: WebhookSecret,
        options: TriggerOptions,
    ) -> None:
        self.storage = storage
        self.server = server
        self.journal = journal
        self.secret = secret
        self.options = options
        self.counts = {"delivered": 0, "failed": 0, "retried": 0}
        self.failing = 0  # failed attempts in a row
        self.last_error: str | None = None
        self._queued_serial = journal.queued_serial()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._pending: dict[str, Delivery] = {}  # queued or being attempted
        self._cond = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    # --- the commit side --------------------------------------------------------------

    def on_commit(self, serial: int, changes: list) -> None:
        """Queue the uploads of one commit: the journal is written before this returns."""
        if serial <= self._queued_serial or not any(c.key.startswith("file/") for c in changes):
            return
        entry = self.storage.changelog(serial)
        timestamp = entry.timestamp if entry is not None else time.time()
        deliveries = []
        with self.storage.transaction() as tx:
            for upload in uploads_in_commit(serial, timestamp, changes, tx):
                user, _, index = upload.index.partition("/")
                config = tx.get(keys.index(user, index)) or {}
                deliveries += [self._new(upload, kind, url) for kind, url in targets(config)]
        if not deliveries:
            return
        self.journal.add(deliveries, serial)
        self._queued_serial = serial
        for delivery in deliveries:
            log.info("trigger %s queued: %s", delivery.id, self._describe(delivery))
            self._schedule(delivery)

    def _new(self, upload: Upload, kind: str, url: str) -> Delivery:
        # The same serial queued twice (after a crash) gives the same id: one delivery.
        name = f"{self.server.uuid}/{upload.serial}/{upload.index}/{upload.project}/"
        name += f"{upload.version}/{kind}/{url}"
        ident = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
        return Delivery(ident, kind, url, upload, created=time.time(), next_at=time.time())

    def _schedule(self, delivery: Delivery) -> None:
        """Queue a delivery unless it is queued already (the commit hook may run while
        :meth:`start` reads the journal)."""
        with self._cond:
            if delivery.id in self._pending:
                return
            self._pending[delivery.id] = delivery
            heapq.heappush(self._heap, (delivery.next_at, next(self._order), delivery))
            self._cond.notify()

    # --- the workers ------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers with what the journal still holds, due at once: a receiver
        that failed before the restart may well answer now."""
        for delivery in self.journal.pending():
            delivery.next_at = time.time()
            self._schedule(delivery)
        for number in range(self.options.threads):
            thread = threading.Thread(target=self._run, name=f"cellar-triggers-{number}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        with requests.Session() as session:
            while (delivery := self._next_due()) is not None:
                try:
                    self._attempt(session, delivery)
                except Exception:  # a bug must not end the worker; the journal keeps it
                    log.exception("trigger %s: unexpected error", delivery.id)

    def _next_due(self) -> Delivery | None:
        with self._cond:
            while not self._stopping:
                if self._heap and self._heap[0][0] <= time.time():
                    return heapq.heappop(self._heap)[2]
                wait = self._heap[0][0] - time.time() if self._heap else None
                self._cond.wait(wait)
            return None

    def _attempt(self, session: requests.Session, delivery: Delivery) -> None:
        delivery.attempts += 1
        try:
            outcome = send(session, self._request(delivery), self.options.timeout)
        except ConfigError as exc:  # the webhook secret cannot be read
            outcome = Outcome(None, clean_error(str(exc)), False, 0.0)
        if outcome.delivered:
            self._finish(delivery, outcome, "delivered")
        elif outcome.retryable and delivery.attempts <= self.options.retries:
            self._retry(delivery, outcome)
        else:
            self._finish(delivery, outcome, "failed")

    def _request(self, delivery: Delivery) -> OutgoingRequest:
        if delivery.kind == "jenkins":
            return jenkins_request(delivery.url, delivery.upload, self.server)
        secret = self.secret.get()
        return webhook_request(delivery.url, delivery.upload, self.server, delivery.id, secret)

    def _retry(self, delivery: Delivery, outcome: Outcome) -> None:
        delay = self.options.backoff(delivery.attempts, outcome.retry_after)
        delivery.next_at = time.time() + delay
        self.journal.update(delivery)
        with self._cond:
            self.counts["retried"] += 1
        self._account(delivery, outcome, "retry")
        with self._cond:
            heapq.heappush(self._heap, (delivery.next_at, next(self._order), delivery))
            self._cond.notify()

    def _finish(self, delivery: Delivery, outcome: Outcome, result: str) -> None:
        self.journal.remove(delivery)
        with self._cond:
            self._pending.pop(delivery.id, None)
            self.counts[result] += 1
        self._account(delivery, outcome, result)

    def _account(self, delivery: Delivery, outcome: Outcome, result: str) -> None:
        """The log line and the delivery log entry of one attempt."""
        with self._cond:
            if outcome.delivered:
                self.failing, self.last_error = 0, None
            else:
                self.failing += 1
                self.last_error = f"{delivery.kind} {mask_url(delivery.url)}: {outcome.error}"
        waits = ""
        if result == "retry":
            waits = f", next attempt in {delivery.next_at - time.time():.1f} s"
        level = {"delivered": logging.INFO, "retry": logging.WARNING}.get(result, logging.ERROR)
        log.log(
            level,
            "trigger %s %s (attempt %d, %s, %.2f s%s): %s",
            delivery.id, result, delivery.attempts, outcome.error or f"HTTP {outcome.status}",
            outcome.duration, waits, self._describe(delivery),
        )  # fmt: skip
        self.journal.record(self._log_entry(delivery, outcome, result))

    def _log_entry(self, delivery: Delivery, outcome: Outcome, result: str) -> dict:
        upload = delivery.upload
        return {
            "time": iso_time(time.time()),
            "delivery": delivery.id,
            "kind": delivery.kind,
            "url": mask_url(delivery.url),
            "index": upload.index,
            "project": upload.project,
            "version": upload.version,
            "serial": upload.serial,
            "files": [f.filename for f in upload.files],
            "attempt": delivery.attempts,
            "outcome": result,
            "status": outcome.status,
            "error": outcome.error,
            "duration": round(outcome.duration, 3),
            "next_attempt": iso_time(delivery.next_at) if result == "retry" else None,
        }

    def _describe(self, delivery: Delivery) -> str:
        upload = delivery.upload
        where = f"{upload.index} {upload.project} {upload.version} (serial {upload.serial})"
        return f"{where} -> {delivery.kind} {mask_url(delivery.url)}"

    # --- what the server shows --------------------------------------------------------

    def pending_for(self, index: str) -> list[dict]:
        with self._cond:
            queued = [d for d in self._pending.values() if d.upload.index == index]
        return [
            {
                "delivery": d.id,
                "kind": d.kind,
                "url": mask_url(d.url),
                "project": d.upload.project,
                "version": d.upload.version,
                "serial": d.upload.serial,
                "attempts": d.attempts,
                "next_attempt": iso_time(d.next_at),
            }
            for d in sorted(queued, key=lambda d: (d.next_at, d.id))
        ]

    def metrics(self) -> list[tuple[str, str, float]]:
        with self._cond:
            pending = len(self._pending)
            counts = dict(self.counts)
        return [
            ("cellar_triggers_delivered", "counter", counts["delivered"]),
            ("cellar_triggers_failed", "counter", counts["failed"]),
            ("cellar_triggers_retried", "counter", counts["retried"]),
            ("cellar_triggers_pending", "gauge", pending),
        ]

    def status_messages(self) -> list[dict[str, str]]:
        if self.failing < FAILING_AFTER:
            return []
        text = f"upload triggers: the last {self.failing} delivery attempts failed; "
        return [{"status": "warn", "msg": text + f"latest: {self.last_error}"}]
