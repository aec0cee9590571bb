"""Endpoint discovery (``+api``), login (``+login``) and server status (``+status``)."""

from __future__ import annotations

from pyramid.view import view_config

from cheesecellar.auth.plugin import check_password
from cheesecellar.errors import BadRequest
from cheesecellar.errors import Forbidden
from cheesecellar.errors import Unauthorized
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.interfaces import ITokenSigner
from cheesecellar.model import indexes
from cheesecellar.model import users
from cheesecellar.status import status_info
from cheesecellar.views import app_url
from cheesecellar.views import envelope
from cheesecellar.views import read_json

CORE_FEATURES = frozenset(
    {"push-no-docs", "push-only-docs", "push-register-project", "server-keyvalue-parsing"}
)


def authstatus(request) -> list:
    identity = request.identity
    if identity is None:
        return ["noauth", "", []]
    return ["ok", identity.username, list(identity.groups)]


def features(request) -> list[str]:
    found = set(CORE_FEATURES)
    for extra in request.registry.cellar_pm.hook.cellar_get_features():
        found.update(extra or ())
    return sorted(found)


def index_urls(request, username: str, indexname: str, config: dict) -> dict:
    url = app_url(request, f"/{username}/{indexname}")
    urls = {"index": url, "simpleindex": url + "/+simple/"}
    if request.registry.getUtility(IIndexTypes).get(config["type"]).accepts_uploads:
        urls["pypisubmit"] = url + "/"
    return urls


@view_config(route_name="api", renderer="cellarjson", request_method="GET")
@view_config(route_name="user.api", renderer="cellarjson", request_method="GET")
@view_config(route_name="index.api", renderer="cellarjson", request_method="GET")
def api(context, request):
    result = {
        "login": app_url(request, "/+login"),
        "authstatus": authstatus(request),
        "features": features(request),
    }
    if request.matched_route.name == "user.api":
        users.require_user(request.tx, context.username)
    if request.matched_route.name == "index.api":
        config = indexes.require_index(request.tx, context.username, context.indexname)
        result.update(index_urls(request, context.username, context.indexname, config))
    return envelope(request, "apiconfig", result)


@view_config(route_name="login", renderer="cellarjson", request_method="POST")
def login(request):
    body = read_json(request)
    if not isinstance(body, dict) or not body.get("user") or "password" not in body:
        raise BadRequest("Bad request: no user/password specified")
    username, password = body["user"], body["password"]
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest("Bad request: user and password must be strings")
    if username == "+replica":
        raise Forbidden("replicas cannot log in")
    record = users.get_user(request.tx, username)
    groups = check_password(request.registry, username, password, record)
    if groups is None:
        raise Unauthorized(f"user {username!r} could not be authenticated")
    record = users.upgrade_legacy_password(request.tx, username, record, password)
    signer = request.registry.getUtility(ITokenSigner)
    token = signer.make(username, groups, record.get("pwhash") if record else None)
    result = {"password": token, "expiration": signer.max_age}
    return envelope(request, "proxyauth", result, message="login successful")


@view_config(route_name="status", renderer="cellarjson", request_method="GET")
def status(request):
    return envelope(request, "status", status_info(request.registry, request.tx))
