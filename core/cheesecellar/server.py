"""A running server: storage, application and event thread, served by waitress."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time

import waitress
from waitress import wasyncore

from cheesecellar.app import make_app
from cheesecellar.auth.secret import load_server_secret
from cheesecellar.auth.secret import read_secret
from cheesecellar.config import ConfigError
from cheesecellar.config import Settings
from cheesecellar.dirlock import DirectoryLock
from cheesecellar.events import EventDispatcher
from cheesecellar.serverdir import EMPTY_ROOT_WARNING
from cheesecellar.serverdir import NodeInfo
from cheesecellar.serverdir import check_empty
from cheesecellar.serverdir import init_serverdir
from cheesecellar.serverdir import is_initialised
from cheesecellar.serverdir import root_has_empty_password
from cheesecellar.storage import open_storage

log = logging.getLogger(__name__)

#: Seconds to let in-flight requests finish after SIGTERM/SIGINT.
SHUTDOWN_GRACE = 30


@dataclasses.dataclass
class Running:
    """The pieces of a started server; :meth:`close` stops them in order."""

    app: object
    registry: object
    storage: object
    events: EventDispatcher
    lock: DirectoryLock

    def close(self) -> None:
        self.registry.cellar_stopping.set()
        self.registry.cellar_pm.hook.cellar_shutdown(registry=self.registry)
        self.events.stop()
        self.storage.close()
        self.lock.release()


def start(settings: Settings, pm, *, init_if_needed: bool = True) -> Running:
    """Open (and on first start initialise) the server directory; build the app."""
    pm.hook.cellar_configure(settings=settings)
    if settings.secretfile is not None:
        read_secret(settings.secretfile)  # refuse a bad secret before touching the serverdir
    fresh = not is_initialised(settings.serverdir)
    if fresh:
        if not init_if_needed:
            raise ConfigError(f"{settings.serverdir} is not initialised; run 'cellar init'")
        check_empty(settings.serverdir)
    lock = DirectoryLock(settings.serverdir).acquire()
    try:
        return _open(settings, pm, fresh, lock)
    except BaseException:
        lock.release()
        raise


def _open(settings: Settings, pm, fresh: bool, lock: DirectoryLock) -> Running:
    secret = load_server_secret(settings.secretfile, settings.serverdir)
    storage = open_storage(pm, settings.serverdir, settings.storage_backend)
    try:
        if fresh:
            init_serverdir(settings, pm, storage=storage)
        nodeinfo = NodeInfo.load(settings.serverdir)
        if nodeinfo.role == "replica" and settings.role != "replica":
            raise ConfigError(
                f"{settings.serverdir} belongs to a replica; start it with --role replica"
            )
        app = make_app(settings, pm, storage, nodeinfo, secret)
    except BaseException:
        storage.close()
        raise
    registry = app.app.registry
    events = EventDispatcher(storage, pm)
    registry.cellar_events = events
    registry.cellar_started_at = time.time()
    # Set when the server starts to drain: long waits (a replica's poll) end at once.
    registry.cellar_stopping = threading.Event()
    events.start()
    pm.hook.cellar_startup(registry=registry)
    registry.cellar_search = pm.hook.cellar_get_search_backend(registry=registry)
    _warn_empty_root(storage)
    return Running(app, registry, storage, events, lock)


def _warn_empty_root(storage) -> None:
    if root_has_empty_password(storage):
        log.warning("\n%s", EMPTY_ROOT_WARNING)


def serve(settings: Settings, pm) -> int:
    """Serve until SIGTERM or SIGINT, then finish in-flight requests and close cleanly."""
    running = start(settings, pm)
    try:
        server = waitress.create_server(
            running.app,
            host=settings.host,
            port=settings.port,
            threads=settings.threads,
            max_request_body_size=settings.max_request_body_size,
            clear_untrusted_proxy_headers=True,
            ident="cheesecellar",
        )
    except OSError as exc:
        running.close()
        where = f"{settings.host}:{settings.port}"
        raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    log.warning(
        "cheesecellar serving on http://%s:%s/ (serverdir %s)",
        settings.host,
        server.effective_port,
        settings.serverdir,
    )
    try:
        run_until(server, stopping, draining=running.registry.cellar_stopping)
    finally:
        running.close()
    log.warning("cheesecellar stopped")
    return 0


def run_until(
    server,
    stopping: threading.Event,
    grace: float = SHUTDOWN_GRACE,
    draining: threading.Event | None = None,
) -> None:
    """Run waitress's loop until ``stopping``; then stop accepting and drain requests
    (``draining`` is set first, so that long polls answer at once)."""
    deadline = None
    while True:
        if stopping.is_set() and deadline is None:
            deadline = time.monotonic() + grace
            server.accepting = False
            if draining is not None:
                draining.set()
            log.warning("shutting down: finishing in-flight requests")
        if deadline is not None and (not _busy(server) or time.monotonic() > deadline):
            break
        wasyncore.loop(timeout=0.2, map=server._map, use_poll=True, count=1)
    server.task_dispatcher.shutdown(timeout=5)
    wasyncore.close_all(server._map)


def _busy(server) -> bool:
    """Whether any connection has a request in progress or unsent output."""
    return any(
        channel.requests or channel.total_outbufs_len
        for channel in list(server.active_channels.values())
    )
