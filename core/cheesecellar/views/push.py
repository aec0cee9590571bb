"""Push a release to another index: ``PUSH /{user}/{index}``, or a JSON ``POST`` there."""

from __future__ import annotations

from pyramid.view import view_config

from cheesecellar.errors import BadRequest
from cheesecellar.errors import Unauthorized
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.interfaces import IStorage
from cheesecellar.model import indexes
from cheesecellar.model.push import PushRequest
from cheesecellar.model.push import parse_push_body
from cheesecellar.model.push import push_release
from cheesecellar.resources import IndexContext
from cheesecellar.views import envelope
from cheesecellar.views import read_json


class TargetIndexContext(IndexContext):
    """The index a push writes to, so its own ``acl_upload`` decides who may push."""

    def __init__(self, request, username: str, indexname: str) -> None:
        self.request = request
        self.username = username
        self.indexname = indexname


def check_target(request, push: PushRequest) -> dict:
    """The target's config; it must exist, take uploads, and let the caller upload."""
    config = indexes.require_index(request.tx, push.target_user, push.target_index)
    if not request.registry.getUtility(IIndexTypes).get(config["type"]).accepts_uploads:
        raise BadRequest(f"cannot push to {config['type']} index {push.targetindex}")
    target = TargetIndexContext(request, push.target_user, push.target_index)
    if not request.has_permission("upload", target):
        who = request.authenticated_userid
        caller = "anonymous user" if who is None else f"user {who!r}"
        raise Unauthorized(f"{caller} cannot upload to {push.targetindex!r}")
    return config


# A POST with an ``:action`` field is an upload; the view with that predicate wins.
@view_config(route_name="index", request_method=("PUSH", "POST"), renderer="cellarjson")
def push(context, request):
    indexes.require_index(request.tx, context.username, context.indexname)
    wanted = parse_push_body(read_json(request))
    target = check_target(request, wanted)
    actions = push_release(
        request.tx, request.registry.getUtility(IStorage), context.name, wanted,
        who=request.authenticated_userid, volatile=target.get("volatile", True),
    )  # fmt: skip
    return envelope(request, "actionlog", actions)
