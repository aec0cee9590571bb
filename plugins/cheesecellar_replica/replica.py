"""A replica node: the primary client, the follower thread and the file pool, together."""

from __future__ import annotations

import logging
import time

from cheesecellar.interfaces import IStorage
from cheesecellar_replica.client import PrimaryClient
from cheesecellar_replica.files import FilePool
from cheesecellar_replica.follower import Follower
from cheesecellar_replica.follower import PrimaryIdentity
from cheesecellar_replica.readthrough import PrimaryReads
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
        tokens = ReplicaTokens(secret)
        uuid = registry.cellar_nodeinfo.uuid
        self.client = PrimaryClient(self.primary_url, tokens, uuid, settings.outside_url)
        self.reads = PrimaryReads(self.primary_url, tokens, uuid)
        threads = int(settings.plugin("replica_file_threads", FILE_THREADS))
        self.files = FilePool(self.storage, self.client, threads, registry.cellar_pm.hook)
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
        self.reads.close()

    def route_mirrors(self, types, mirror) -> None:
        """Send the mirror indexes' stale pages and missing files through the primary.

        :param types: the index type registry, whose ``mirror`` type gets a reader and a
            file source of the replica's.
        :param mirror: the node's mirror service; kept offline, so that nothing on a
            replica ever asks upstream.
        """
        from cheesecellar_mirror.reader import MirrorReader
        from cheesecellar_replica.mirrorfiles import ReplicaMirrorFiles
        from cheesecellar_replica.mirrorpages import ReplicaMirror

        mirror.offline = True
        pages = ReplicaMirror(mirror, self.reads, self.follower)
        types.update(
            "mirror", reader=MirrorReader(pages), file_source=ReplicaMirrorFiles(pages, self.reads)
        )

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
            ("cellar_replica_file_hook_errors", "counter", self.files.hook_errors),
            ("cellar_replica_errors", "counter", self.follower.errors),
            ("cellar_replica_lag_serials", "gauge", self.follower.lag() or 0),
        ]
