"""User views: list (``/``), show, create, modify and delete (``/{user}``)."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPForbidden
from pyramid.view import view_config

from cheesecellar.interfaces import ITokenSigner
from cheesecellar.model import users
from cheesecellar.views import envelope
from cheesecellar.views import message
from cheesecellar.views import present_userconfig
from cheesecellar.views import read_json_object


@view_config(route_name="root", renderer="cellarjson", request_method="GET")
def user_list(request):
    tx = request.tx
    result = {
        name: present_userconfig(
            request, name, users.public_userconfig(tx, name, users.get_user(tx, name))
        )
        for name in users.list_usernames(tx)
    }
    return envelope(request, "list:userconfig", result)


@view_config(route_name="user", renderer="cellarjson", request_method="GET")
def user_get(context, request):
    record = users.require_user(request.tx, context.username)
    userconfig = users.public_userconfig(request.tx, context.username, record)
    return envelope(
        request, "userconfig", present_userconfig(request, context.username, userconfig)
    )


@view_config(
    route_name="user", renderer="cellarjson", request_method="PUT", permission="user_create"
)
def user_create(context, request):
    record = users.create_user(request.tx, context.username, read_json_object(request))
    result = users.public_userconfig(request.tx, context.username, record)
    return envelope(
        request, "userconfig", result, status=201, message=f"user {context.username!r} created"
    )


@view_config(route_name="user", renderer="cellarjson", request_method="PATCH")
def user_modify(context, request):
    body = read_json_object(request)
    users.require_user(request.tx, context.username)
    only_password = set(body) == {"password"}
    if not request.has_permission("user_modify_password" if only_password else "user_modify"):
        raise HTTPForbidden()
    if not users.modify_user(request.tx, context.username, body):
        return message(request, "user updated")
    record = users.get_user(request.tx, context.username)
    signer = request.registry.getUtility(ITokenSigner)
    token = signer.make(context.username, [], record.get("pwhash"))
    result = {"password": token, "expiration": signer.max_age}
    return envelope(request, "userpassword", result, message="user updated, new proxy auth")


@view_config(
    route_name="user", renderer="cellarjson", request_method="DELETE", permission="user_delete"
)
def user_delete(context, request):
    users.delete_user(request.tx, context.username)
    return message(request, f"user {context.username!r} deleted")
