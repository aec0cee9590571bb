"""What ``/+status`` reports: identity, serials, event progress, metrics, plugin problems."""

from __future__ import annotations

import time

from cheesecellar import __version__
from cheesecellar.interfaces import IStorage


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def status_info(registry, tx) -> dict:
    settings = registry.cellar_settings
    node = registry.cellar_nodeinfo
    storage = registry.getUtility(IStorage)
    events = getattr(registry, "cellar_events", None)
    pm = registry.cellar_pm
    metrics = [
        list(m) for found in pm.hook.cellar_metrics(registry=registry) for m in (found or ())
    ]
    if events is not None:
        metrics.append(["cellar_event_errors", "counter", events.errors])
    messages = [m for found in pm.hook.cellar_status_info(registry=registry) for m in (found or ())]
    info = {
        "serverdir": str(settings.serverdir),
        "uuid": node.uuid,
        "versioninfo": {"cheesecellar": __version__},
        "server-code": __version__,
        "host": settings.host,
        "port": settings.port,
        "outside-url": settings.outside_url,
        "serial": storage.last_serial(),
        "last-commit-timestamp": storage.last_commit_timestamp(),
        "event-serial": None if events is None else events.handled,
        "event-serial-timestamp": None if events is None else events.handled_at,
        "event-serial-in-sync-at": None if events is None else events.in_sync_at,
        "metrics": metrics,
        "role": "REPLICA" if settings.role == "replica" else "MASTER",
        "cellar-role": settings.role,
        "polling_replicas": {},
        "plugins": sorted(name for name, plugin in pm.list_name_plugin() if plugin),
        "messages": messages,
        "started-at": _iso(getattr(registry, "cellar_started_at", None)),
    }
    replication = getattr(registry, "cellar_replication", None)
    if replication is not None:  # the replica plugin: primary-serial, replica-lag, ...
        info.update(replication.status_fields())
    return info
