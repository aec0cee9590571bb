"""Uploads to ``/{user}/{index}/``: files, metadata and documentation (twine, devpi)."""

from __future__ import annotations

from pyramid.response import Response
from pyramid.view import view_config

from cheesecellar.errors import BadRequest
from cheesecellar.errors import Forbidden
from cheesecellar.errors import NotFound
from cheesecellar.errors import Unauthorized
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.model import indexes
from cheesecellar.model import upload
from cheesecellar.renderers import reason_phrase

ACTIONS = ("file_upload", "submit", "doc_upload")


def check_upload_permission(request, indexname: str) -> None:
    """Anonymous callers are asked for credentials (twine then prompts); others refused."""
    if request.has_permission("upload"):
        return
    if request.authenticated_userid is None:
        raise Unauthorized(
            f"no permission to upload to {indexname}: log in first",
            headers={"WWW-Authenticate": 'Basic realm="pypi"'},
        )
    raise Forbidden("no permission to submit")


@view_config(route_name="index", request_method="POST", request_param=":action")
def upload_action(context, request):
    config = indexes.require_index(request.tx, context.username, context.indexname)
    if not request.registry.getUtility(IIndexTypes).get(config["type"]).accepts_uploads:
        raise NotFound(f"cannot submit to {config['type']} index {context.name}")
    check_upload_permission(request, context.name)
    action = request.POST.get(":action")
    if action not in ACTIONS:
        raise BadRequest(f"unknown :action {action!r}; expected one of {', '.join(ACTIONS)}")
    who = request.authenticated_userid
    limit = request.cellar_settings.max_request_body_size
    tx, form = request.tx, request.POST
    if action == "file_upload":
        result = upload.file_upload(tx, context.name, config, form, who, limit)
    elif action == "submit":
        result = upload.submit(tx, context.name, form)
    else:
        result = upload.doc_upload(tx, context.name, config, form, who, limit)
    response = Response(status=f"{result.status} {reason_phrase(result.message)}")
    response.content_type = "text/plain"
    response.text = result.message + "\n"
    return response
