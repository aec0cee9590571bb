"""A replica node: the primary client, the follower thread and the file pool, together."""

from __future__ import annotations

import logging
import time

from cheesecellar.interfaces import IStorage
from cheesecellar_replica.client import PrimaryClient
from cheesecellar_replica.files import FilePool
from cheesecellar_replica.follower import Follower
from cheesecellar_replica.follower import PrimaryIdentity
from cheesecellar_replica.tokens import ReplicaTokens

log = logging.getLogger(__name__)

#: Seconds a changes request waits on the primary for a new serial (``--replica-poll-wait``).
POLL_WAIT = 20.0
#: Threads fetching files from the primary (``--replica-file-threads``).
FILE_THREADS = 4


class ReplicaService:
    """Everything a replica runs to follow its primary; built and started at start-up."""

    def __init__(self, registry, secret: bytes) -> None:
        settings = registry.cellar_settings
        self.registry = registry
        self.storage = registry.getUtility(IStorage)
        self.primary_url = settings.primary_url.rstrip("/")
        self.client = PrimaryClient(
            self.primary_url,
            ReplicaTokens(secret),
            registry.cellar_nodeinfo.uuid,
            settings.outside_url,
        )
        threads = int(settings.plugin("replica_file_threads", FILE_THREADS))
        self.files = FilePool(self.storage, self.client, threads)
        poll_wait = float(settings.plugin("replica_poll_wait", POLL_WAIT))
        self.identity = PrimaryIdentity(registry)
        self.follower = Follower(self.storage, self.client, self.files, self.identity, poll_wait)
        self.started_at = time.time()
        self.storage.follow_primary(self.files.fetch_now)

    def start(self) -> None:
        self.files.start()
        self.follower.start()

    def stop(self) -> None:
        self.follower.stop()
        self.files.stop()
        self.client.close()

    def status_fields(self) -> dict:
        follower = self.follower
        return {
            "primary-url": self.primary_url,
            "primary-uuid": self.identity.uuid,
            "primary-serial": follower.primary_serial,
            "replica-lag": follower.lag(),
            "replica-started-at": self.started_at,
            "primary-contacted-at": follower.primary_contacted_at,
            "update-from-primary-at": follower.updated_at,
            "replica-in-sync-at": follower.in_sync_at,
            "replication-state": follower.state,
            "replication-errors": follower.errors,
            "file-queue": self.files.queue_length(),
            "files-pending": len(self.storage.pending_files()),
            "quarantined": len(self.files.quarantined),
            "quarantined-files": dict(self.files.quarantined),
        }

    def status_messages(self) -> list[dict]:
        messages = []
        if self.follower.problem:
            status = "fatal" if self.follower.state == "wrong-primary" else "warn"
            messages.append({"status": status, "msg": self.follower.problem})
        if self.files.quarantined:
            paths = ", ".join(sorted(self.files.quarantined)[:5])
            messages.append(
                {
                    "status": "warn",
                    "msg": f"{len(self.files.quarantined)} file(s) could not be replicated "
                    f"and are quarantined: {paths}",
                }
            )
        return messages

    def metrics(self) -> list[tuple[str, str, float]]:
        return [
            ("cellar_replica_files_fetched", "counter", self.files.fetched),
            ("cellar_replica_file_failures", "counter", self.files.failures),
            ("cellar_replica_errors", "counter", self.follower.errors),
            ("cellar_replica_lag_serials", "gauge", self.follower.lag() or 0),
        ]
