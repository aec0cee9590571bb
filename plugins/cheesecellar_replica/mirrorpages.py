"""A replica's mirror indexes: stale pages and project lists are asked of the primary.

The primary fetches upstream, caches and commits; the replica waits (bounded) until it
has imported that serial and reads the page from its own records, so its links are its
own URLs and its file layout is the primary's. A replica never asks upstream itself.
When the primary is unreachable it serves what it has, listing only the files it holds.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Iterable

from cheesecellar.errors import MirrorUnavailable
from cheesecellar.keyedlocks import KeyedLocks
from cheesecellar.model import keys
from cheesecellar_mirror.projectlist import NameFile
from cheesecellar_replica.readthrough import PrimaryReads
from cheesecellar_replica.readthrough import PrimaryUnavailable

log = logging.getLogger(__name__)

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
#: Seconds a request waits for the serial that holds what the primary fetched for it.
SERIAL_WAIT = 10.0
#: Seconds a failed primary is believed before it is asked again (at most).
OUTAGE_RETRY = 30.0
#: Pages read lately, for requests whose snapshot predates their import.
RECENT = 256
#: Follower states in which the primary's serials are not imported.
NOT_IMPORTING = frozenset({"refused", "wrong-primary"})
#: The project of the key of a project list.
LIST = None


class ReplicaMirror:
    """What the mirror's reader needs of its service (``page``, ``expires_at``,
    ``names``, ``offline``), answered through the primary.

    :param mirror: the node's :class:`~cheesecellar_mirror.service.MirrorService`, in
        offline mode: it only reads the stored records here.
    :param reads: reads of the primary's public URLs.
    :param follower: the changelog follower, whose state tells an unreachable primary.
    """

    def __init__(self, mirror, reads: PrimaryReads, follower) -> None:
        self.mirror = mirror
        self.storage = mirror.storage
        self.reads = reads
        self.follower = follower
        self.names = ReplicaNameLists(self)
        self._checked: dict[tuple, float] = {}
        self._failed: set[tuple] = set()
        self._recent: OrderedDict[tuple, tuple[int, object]] = OrderedDict()
        self._configs: dict[str, tuple] = {}
        self._locks = KeyedLocks()
        self._down_until = 0.0

    @property
    def offline(self) -> bool:
        """While the primary is unreachable, pages list only the files held here."""
        return time.monotonic() < self._down_until or self.follower.state == "unreachable"

    # --- the reader's service -----------------------------------------------------------

    def page(self, tx, indexname: str, config: dict, project: str):
        """The stored page, asked of the primary first when stale; raises
        :class:`MirrorUnavailable` if the primary failed and nothing is replicated."""
        key = (indexname, project)
        path = f"/{indexname}/+simple/{project}/"
        page = self.current(tx, key, config, path, self._page_reader(indexname, project))
        if page is None and key in self._failed:
            raise MirrorUnavailable(
                f"{project} is not on this replica and its primary is unavailable"
            )
        return page

    def known_page(self, tx, indexname: str, project: str):
        """The page as last imported, without asking the primary (for file lookups)."""
        return self._known(tx, (indexname, project), self._page_reader(indexname, project))

    def expires_at(self, indexname: str, project: str) -> float | None:
        return self._checked.get((indexname, project), 0.0)

    def forget(self, indexname: str, project: str | None) -> None:
        self._checked.pop((indexname, project), None)

    # --- freshness ----------------------------------------------------------------------

    def current(self, tx, key: tuple, config: dict, path: str, read: Callable, method="GET"):
        """``read(tx)`` after asking the primary for ``path`` if ``key`` is stale."""
        self._notice_config(key[0], config)
        if not self._is_fresh(key):
            with self._locks.hold(key):
                if not self._is_fresh(key):
                    self._ask_primary(key, config, path, read, method)
        return self._known(tx, key, read)

    def _ask_primary(self, key: tuple, config: dict, path: str, read, method: str) -> None:
        expiry = self.mirror.expiry(config)
        if self.follower.state in NOT_IMPORTING:  # what the primary fetched would not come
            problem = f"replication is {self.follower.state}: {self.follower.problem}"
            self._outage(key, expiry, PrimaryUnavailable(problem))
            return
        try:
            serial = self.reads.serial_after(path, JSON_ACCEPT, method)
        except PrimaryUnavailable as exc:
            self._outage(key, expiry, exc)
            return
        self._down_until = 0.0
        self._failed.discard(key)
        if self.storage.wait_for_commit(serial, SERIAL_WAIT) < serial:
            log.warning("%s: serial %d of the primary not imported yet", path, serial)
            expiry = min(expiry, OUTAGE_RETRY)
        with self.storage.transaction() as fresh:
            self._remember(key, fresh.at_serial, read(fresh))
        self._checked[key] = time.monotonic() + expiry

    def _outage(self, key: tuple, expiry: float, exc: Exception) -> None:
        now = time.monotonic()
        if now >= self._down_until:
            log.warning("serving what this replica has: %s", exc)
        self._down_until = now + OUTAGE_RETRY
        self._checked[key] = now + min(expiry, OUTAGE_RETRY)
        self._failed.add(key)

    def _is_fresh(self, key: tuple) -> bool:
        return time.monotonic() < self._checked.get(key, 0.0)

    def _known(self, tx, key: tuple, read):
        recent = self._recent.get(key)
        if recent is not None and tx.at_serial < recent[0]:
            return recent[1]  # this request's snapshot predates the import
        return read(tx)

    def _remember(self, key: tuple, serial: int, value) -> None:
        self._recent[key] = (serial, value)
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)

    def _notice_config(self, indexname: str, config: dict) -> None:
        """Another upstream or expiry makes the index's pages and list due at once."""
        fingerprint = tuple(sorted((k, repr(v)) for k, v in config.items()))
        if self._configs.setdefault(indexname, fingerprint) == fingerprint:
            return
        self._configs[indexname] = fingerprint
        for key in [key for key in list(self._checked) if key[0] == indexname]:
            self._checked.pop(key, None)

    def _page_reader(self, indexname: str, project: str):
        return lambda tx: self.mirror.stored_page(tx, indexname, project)


class ReplicaNameLists:
    """A replica's mirror project lists: the primary refreshes them when asked."""

    def __init__(self, owner: ReplicaMirror) -> None:
        self.owner = owner

    def names(self, tx, indexname: str, config: dict) -> Iterable[str]:
        owner = self.owner
        if config.get("mirror_no_project_list"):
            return owner.mirror.cached_names(tx, indexname)
        key = (indexname, LIST)
        # HEAD: the primary refreshes its list to answer, and sends no names.
        path = f"/{indexname}/+simple/"
        record = owner.current(tx, key, config, path, self._read(indexname), method="HEAD")
        if record is None:
            return owner.mirror.cached_names(tx, indexname)
        return NameFile(owner.storage, record, owner.expires_at(indexname, LIST))

    def forget(self, indexname: str) -> None:
        self.owner.forget(indexname, LIST)

    @staticmethod
    def _read(indexname: str):
        return lambda tx: tx.get(keys.mirror_list(indexname))
