"""Mirror state: one upstream client per index, cached project pages and their freshness."""

from __future__ import annotations

import logging
import shutil
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path

from cheesecellar import __version__
from cheesecellar.errors import MirrorUnavailable
from cheesecellar.keyedlocks import KeyedLocks
from cheesecellar.model import keys
from cheesecellar_mirror.projectlist import NameLists
from cheesecellar_mirror.upstream import Upstream
from cheesecellar_mirror.upstream import UpstreamError
from cheesecellar_mirror.upstream import UpstreamPage
from cheesecellar_mirror.upstream import mask_url
from cheesecellar_mirror.upstream import strip_credentials
from cheesecellar_mirror.writes import write_record

log = logging.getLogger(__name__)

#: Seconds to wait for upstream when ``--request-timeout`` is not given.
DEFAULT_TIMEOUT = 5.0
#: How long an upstream 404 is believed (at most; a shorter expiry wins).
NOT_FOUND_TTL = 60.0
#: How long an outage is believed before upstream is asked again (at most).
OUTAGE_RETRY = 30.0
#: Downloads in progress, under the server directory (the same file system as +files).
TMPDIR = ".mirror-tmp"
#: Pages fetched lately, for requests whose snapshot predates the fetch's commit.
RECENT_PAGES = 256


class MirrorService:
    """Everything a server knows about its mirror indexes beyond the stored records.

    Stored (and replicated): each fetched project page, under
    :func:`cheesecellar.model.keys.mirror_page`, rewritten only when its content changes.
    In memory: when each page was last checked, so a restart checks everything again
    with a conditional request; and the pages fetched lately.
    """

    def __init__(self, storage, pm, settings) -> None:
        self.storage = storage
        self.pm = pm
        self.settings = settings
        self.offline = settings.offline_mode
        self._checked: dict[tuple[str, str], float] = {}
        self._recent: OrderedDict[tuple[str, str], tuple[int, UpstreamPage | None]] = OrderedDict()
        self._validators: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self._locks = KeyedLocks()
        self._seen: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._clients: dict[str, tuple[tuple, object]] = {}
        self._clients_lock = threading.Lock()
        self._configs: dict[str, tuple] = {}
        self.names = NameLists(self)
        self.tmpdir = Path(settings.serverdir) / TMPDIR
        shutil.rmtree(self.tmpdir, ignore_errors=True)  # what an interrupted download left
        self.tmpdir.mkdir(parents=True, exist_ok=True)

    # --- upstream clients ---------------------------------------------------------------

    def upstream(self, indexname: str, config: dict):
        """The upstream client of a mirror index, made again when its config changes."""
        fingerprint = _config_fingerprint(config)
        with self._clients_lock:
            known = self._clients.get(indexname)
            if known is not None and known[0] == fingerprint:
                return known[1]
            client = self.pm.hook.cellar_get_upstream(
                indexname=indexname, ixconfig=config, settings=self.settings
            ) or self._default_client(indexname, config)
            self._clients[indexname] = (fingerprint, client)
        if known is not None:
            known[1].close()
        return client

    def _default_client(self, indexname: str, config: dict) -> Upstream:
        url = config.get("mirror_url")
        if not url:
            raise MirrorUnavailable(f"mirror index {indexname} has no mirror_url")
        bare, auth = strip_credentials(url)
        if auth is None:
            auth = self.pm.hook.cellar_get_mirror_auth(indexname=indexname, url=bare)
        timeout = self.settings.plugin("request_timeout", DEFAULT_TIMEOUT)
        # One retry: two waits for a silent upstream stay under pip's own 15 s timeout.
        return Upstream(
            bare, auth=auth, timeout=timeout, retries=1, user_agent=f"cheesecellar/{__version__}"
        )

    def close(self) -> None:
        downloads = getattr(self, "downloads", None)
        if downloads is not None and not downloads.wait_idle():
            log.warning("stopping with mirror downloads still running; they are not kept")
        with self._clients_lock:
            clients, self._clients = self._clients, {}
        for _fingerprint, client in clients.values():
            client.close()

    # --- project pages ------------------------------------------------------------------

    def expiry(self, config: dict) -> float:
        return float(config.get("mirror_cache_expiry", self.settings.mirror_cache_expiry))

    def stored_page(self, tx, indexname: str, project: str) -> UpstreamPage | None:
        record = tx.get(keys.mirror_page(indexname, project))
        return None if record is None else UpstreamPage.from_dict(record["page"])

    def page(self, tx, indexname: str, config: dict, project: str) -> UpstreamPage | None:
        """The project's upstream page: cached while fresh, else asked of upstream
        (conditionally); the cached page when upstream fails. Raises
        :class:`MirrorUnavailable` when upstream fails and nothing is cached."""
        key = (indexname, project)
        if self.offline:
            return self.stored_page(tx, indexname, project)
        seen = self._seen.setdefault(tx, {})
        if key not in seen:  # one answer per request, however often the resolver asks
            seen[key] = self._current(tx, indexname, config, project)
        return seen[key]

    def _current(self, tx, indexname: str, config: dict, project: str) -> UpstreamPage | None:
        key = (indexname, project)
        self.notice_config(indexname, config)
        if self._is_fresh(key):
            return self._known(tx, key)
        with self._locks.hold(key):
            if self._is_fresh(key):
                return self._known(tx, key)
            return self._fetch(tx, indexname, config, project)

    def expires_at(self, indexname: str, project: str) -> float | None:
        """When the page must be checked again; None in offline mode."""
        return None if self.offline else self._checked.get((indexname, project), 0.0)

    def forget(self, indexname: str, project: str) -> None:
        """Make the next request ask upstream again (``+simple/{p}/refresh``)."""
        self._checked.pop((indexname, project), None)

    def notice_config(self, indexname: str, config: dict) -> None:
        """A changed configuration (another upstream, a shorter expiry) makes every
        page and the project list of the index due at once."""
        fingerprint = _config_fingerprint(config)
        if self._configs.setdefault(indexname, fingerprint) == fingerprint:
            return
        self._configs[indexname] = fingerprint
        for key in [key for key in list(self._checked) if key[0] == indexname]:
            self._checked.pop(key, None)
        self.names.forget(indexname)

    def cached_names(self, tx, indexname: str) -> list[str]:
        """Sorted names of the projects whose pages are cached."""
        prefix = keys.mirror_pages_prefix(indexname)
        return [key[len(prefix) :] for key in tx.keys(prefix)]

    def _is_fresh(self, key: tuple[str, str]) -> bool:
        return time.monotonic() < self._checked.get(key, 0.0)

    def known_page(self, tx, indexname: str, project: str) -> UpstreamPage | None:
        """The page as last fetched or stored, without asking upstream."""
        return self._known(tx, (indexname, project))

    def _known(self, tx, key: tuple[str, str]) -> UpstreamPage | None:
        recent = self._recent.get(key)
        if recent is not None and tx.at_serial < recent[0]:
            return recent[1]  # this request's snapshot predates the fetch
        return self.stored_page(tx, *key)

    def _fetch(self, tx, indexname: str, config: dict, project: str) -> UpstreamPage | None:
        key = (indexname, project)
        stored = self._known(tx, key)
        etag, modified = self._validators.get(key, (None, None))
        if stored is not None and etag is None and modified is None:
            etag, modified = stored.etag, stored.last_modified
        upstream = self.upstream(indexname, config)
        try:
            fetched = upstream.fetch_project(project, etag=etag, last_modified=modified)
            if fetched.status == "ok":
                self._check_serial(config, stored, fetched.page)
        except UpstreamError as exc:
            return self._outage(indexname, config, project, stored, exc)
        now = time.monotonic()
        if fetched.status == "not_modified":
            self._checked[key] = now + self.expiry(config)
            return stored
        if fetched.status == "not_found":
            self._checked[key] = now + min(self.expiry(config), NOT_FOUND_TTL)
            if stored is not None:
                self._save(tx, key, None)
            return None
        page = fetched.page
        self._validators[key] = (page.etag, page.last_modified)
        if stored is None or _content(stored) != _content(page):
            self._save(tx, key, page)
        self._checked[key] = now + self.expiry(config)
        return page

    def _check_serial(self, config: dict, stored, page) -> None:
        if config.get("mirror_ignore_serial_header") or stored is None:
            return
        if page.serial is not None and stored.serial is not None and page.serial < stored.serial:
            raise UpstreamError(
                f"upstream serial went back from {stored.serial} to {page.serial} "
                "(a stale copy of the index?)"
            )

    def _outage(self, indexname: str, config: dict, project: str, stored, exc) -> UpstreamPage:
        key = (indexname, project)
        self._checked[key] = time.monotonic() + min(self.expiry(config), OUTAGE_RETRY)
        url = mask_url(config.get("mirror_url", ""))
        if stored is None:
            log.warning("%s: %s unavailable from %s: %s", indexname, project, url, exc)
            raise MirrorUnavailable(
                f"{project} is not cached and the upstream of {indexname} is unavailable"
            )
        log.warning(
            "%s: serving the cached page of %s, %s failed: %s", indexname, project, url, exc
        )
        return stored

    def _save(self, tx, key: tuple[str, str], page: UpstreamPage | None) -> None:
        value = None if page is None else {"page": page.to_dict(), "fetched": time.time()}
        serial = write_record(self.storage, tx, keys.mirror_page(*key), value)
        self._recent[key] = (serial, page)
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_PAGES:
            self._recent.popitem(last=False)


def _config_fingerprint(config: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in config.items()))


def _content(page: UpstreamPage) -> dict:
    data = page.to_dict()
    for validator in ("etag", "last_modified"):
        data.pop(validator, None)
    return data
