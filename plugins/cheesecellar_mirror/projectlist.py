"""A mirror's project list: fetched lazily, kept as a stored file, streamed when read."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from collections.abc import Iterator

from cheesecellar.keyedlocks import KeyedLocks
from cheesecellar.model import keys
from cheesecellar_mirror.upstream import UpstreamError
from cheesecellar_mirror.upstream import mask_url
from cheesecellar_mirror.writes import write_in

log = logging.getLogger(__name__)


class NameFile:
    """A stored list of sorted, normalised names, one per line. Each iteration reads
    the file again, so no request holds the whole list in memory."""

    def __init__(self, storage, record: dict, expires_at: float | None) -> None:
        self._storage = storage
        self._relpath = record["relpath"]
        self.identity = record["sha256"]
        self.count = record.get("count")
        self.expires_at = expires_at

    def __iter__(self) -> Iterator[str]:
        with self._storage.open_file(self._relpath) as fp:
            for line in fp:
                name = line.decode("utf-8").rstrip("\n")
                if name:
                    yield name


class NameLists:
    """The project lists of the mirror indexes of one server."""

    def __init__(self, service) -> None:
        self.service = service
        self._checked: dict[str, float] = {}
        self._recent: dict[str, tuple[int, dict]] = {}
        self._locks = KeyedLocks()

    def names(self, tx, indexname: str, config: dict) -> Iterable[str]:
        """The sorted names of the mirror: the upstream list, or the names of the cached
        pages when there is none (``mirror_no_project_list``, offline, upstream down)."""
        if config.get("mirror_no_project_list"):
            return self.service.cached_names(tx, indexname)
        self.service.notice_config(indexname, config)
        record = self._latest(tx, indexname)
        if not self.service.offline and not self._is_fresh(indexname):
            with self._locks.hold(indexname):
                record = self._latest(tx, indexname)
                if not self._is_fresh(indexname):
                    record = self._refresh(tx, indexname, config, record)
        if record is None:
            return self.service.cached_names(tx, indexname)
        expires = None if self.service.offline else self._checked.get(indexname)
        return NameFile(self.service.storage, record, expires)

    def forget(self, indexname: str) -> None:
        """Make the next request ask upstream for the list again."""
        self._checked.pop(indexname, None)

    def _is_fresh(self, indexname: str) -> bool:
        return time.monotonic() < self._checked.get(indexname, 0.0)

    def _latest(self, tx, indexname: str) -> dict | None:
        recent = self._recent.get(indexname)
        if recent is not None and tx.at_serial < recent[0]:
            return recent[1]
        return tx.get(keys.mirror_list(indexname))

    def _refresh(self, tx, indexname: str, config: dict, record: dict | None) -> dict | None:
        service = self.service
        dest = service.tmpdir / f"names-{uuid.uuid4().hex}.txt"
        old = record or {}
        try:
            fetched = service.upstream(indexname, config).fetch_project_list(
                dest, etag=old.get("etag"), last_modified=old.get("last_modified")
            )
        except UpstreamError as exc:
            url = mask_url(config.get("mirror_url", ""))
            log.warning(
                "%s: project list from %s failed, using what is cached: %s", indexname, url, exc
            )
            self._checked[indexname] = time.monotonic() + min(service.expiry(config), 30.0)
            return record
        self._checked[indexname] = time.monotonic() + service.expiry(config)
        if fetched.status != "ok":
            dest.unlink(missing_ok=True)
            return record
        try:
            return self._store(tx, indexname, dest, fetched, record)
        finally:
            dest.unlink(missing_ok=True)

    def _store(self, tx, indexname: str, path, fetched, old: dict | None) -> dict:
        def store(wtx) -> dict:
            with open(path, "rb") as fp:
                ref = wtx.store_file(lambda sha: f"{indexname}/+names/{sha[:16]}.txt", fp)
            if old is not None and old["relpath"] != ref.path:
                wtx.delete_file(old["relpath"])
            record = {
                "relpath": ref.path,
                "sha256": ref.sha256,
                "count": fetched.count,
                "etag": fetched.etag,
                "last_modified": fetched.last_modified,
                "fetched": time.time(),
            }
            wtx.set(keys.mirror_list(indexname), record)
            return record

        record, serial = write_in(self.service.storage, tx, store)
        self._recent[indexname] = (serial, record)
        log.info("%s: project list of %s names stored", indexname, fetched.count)
        return record
