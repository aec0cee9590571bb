"""``GET /{user}/{index}/+triggers``: the recent deliveries of an index's upload triggers."""

from __future__ import annotations

from pyramid.view import view_config

from cheesecellar.errors import BadRequest
from cheesecellar.errors import Forbidden
from cheesecellar.model import indexes
from cheesecellar.resources import IndexContext
from cheesecellar.routes import INDEX
from cheesecellar.routes import USER
from cheesecellar.views import envelope
from cheesecellar_jenkins.journal import LOG_KEEP
from cheesecellar_jenkins.journal import Journal

DEFAULT_LIMIT = 50


def includeme(config) -> None:
    config.add_route("triggers.log", f"/{USER}/{INDEX}/+triggers", factory=IndexContext)
    config.scan("cheesecellar_jenkins.views")


def _limit(request) -> int:
    raw = request.GET.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= LOG_KEEP:
        raise BadRequest(f"'limit' must be a number from 1 to {LOG_KEEP}")
    return int(raw)


@view_config(route_name="triggers.log", request_method="GET", renderer="cellarjson")
def trigger_log(context, request):
    indexes.require_index(request.tx, context.username, context.indexname)
    if request.authenticated_userid not in ("root", context.username):
        raise Forbidden(f"only {context.username} and root see the trigger deliveries")
    limit = _limit(request)
    service = getattr(request.registry, "cellar_triggers", None)
    if service is None:  # a replica sends nothing; show what the directory holds
        journal, pending = Journal(request.cellar_settings.serverdir), []
    else:
        journal, pending = service.journal, service.pending_for(context.name)
    result = {
        "index": context.name,
        "pending": pending,
        "deliveries": journal.recent(context.name, limit),
    }
    return envelope(request, "triggerlog", result)
