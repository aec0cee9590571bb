"""``/+status`` for browsers: identity, serials, event lag, replication, search, metrics."""

from __future__ import annotations

import logging
import time
from typing import Any

from pyramid.view import view_config

from cheesecellar.status import status_info

log = logging.getLogger(__name__)

#: What a replica reports about its primary (``/+status`` keys), in the order shown.
REPLICA_KEYS = (
    "primary-url",
    "primary-uuid",
    "primary-serial",
    "primary-serial-timestamp",
    "replica-lag",
    "replica-started-at",
    "primary-contacted-at",
    "update-from-primary-at",
    "replica-in-sync-at",
    "file-queue",
    "quarantined",
    "replication-errors",
)


def _when(value: Any) -> str:
    """A timestamp (UNIX seconds or already text) as readable UTC text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
    return "" if value is None else str(value)


def event_lag(info: dict) -> int | None:
    if info.get("event-serial") is None or info.get("serial") is None:
        return None
    return max(0, info["serial"] - info["event-serial"])


def health(messages: list) -> str:
    """``ok``, ``degraded`` (a warning) or ``fatal``, from the plugins' status messages."""
    levels = {str(m.get("status", "")) for m in messages if isinstance(m, dict)}
    if "fatal" in levels:
        return "fatal"
    return "degraded" if levels else "ok"


def search_status(registry) -> tuple[dict | None, str | None]:
    """The search backend's own report, or a note why there is none."""
    backend = getattr(registry, "cellar_search", None)
    if backend is None:
        return None, "no search backend is installed"
    try:
        return dict(backend.status()), None
    except Exception:
        log.exception("the search backend failed to report its status")
        return None, "the search backend failed to report its status; see the server log"


def present_status(registry, info: dict) -> dict:
    """The status dict arranged for the page."""
    search, search_note = search_status(registry)
    messages = [m for m in info.get("messages") or () if isinstance(m, dict)]
    return {
        "info": info,
        "health": health(messages),
        "messages": messages,
        "event_lag": event_lag(info),
        "last_commit": _when(info.get("last-commit-timestamp")),
        "event_at": _when(info.get("event-serial-timestamp")),
        "event_in_sync_at": _when(info.get("event-serial-in-sync-at")),
        "replica": [(key, info[key]) for key in REPLICA_KEYS if info.get(key) is not None],
        "replicas": sorted((info.get("polling_replicas") or {}).items()),
        "search": search,
        "search_note": search_note,
        "metrics": [m for m in info.get("metrics") or () if isinstance(m, (list, tuple))],
        "when": _when,
    }


@view_config(
    route_name="status",
    request_method="GET",
    browser=True,
    renderer="cheesecellar_web:templates/status.jinja2",
)
def status_page(request):
    info = status_info(request.registry, request.tx)
    return {**present_status(request.registry, info), "title": "Server status"}
