"""HTTP views of the core API; each negotiates, delegates to the model and returns a dict."""

from __future__ import annotations

import json
from typing import Any

from cheesecellar.errors import BadRequest


def app_url(request, path: str) -> str:
    """An absolute URL under the (outside) application URL; ``+`` stays unquoted."""
    return request.application_url + path


def present_index(request, owner: str, config: dict) -> dict:
    """An index configuration as the caller may see it: secrets in it (a mirror's
    upstream credentials) only for root and the index owner."""
    from cheesecellar.interfaces import IIndexTypes

    privileged = request.authenticated_userid in ("root", owner)
    index_type = request.registry.getUtility(IIndexTypes).get(config["type"])
    return index_type.public_config(config, privileged)


def present_userconfig(request, owner: str, userconfig: dict) -> dict:
    """A user's configuration with each of its indexes presented by
    :func:`present_index`."""
    found = userconfig.get("indexes")
    if not found:
        return userconfig
    shown = {name: present_index(request, owner, config) for name, config in found.items()}
    return {**userconfig, "indexes": shown}


def read_json(request) -> Any:
    """The request body as JSON, or a 400 that says what is wrong with it."""
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Bad request: could not decode json") from None


def read_json_object(request) -> dict:
    body = read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("Bad request: expected a JSON object")
    return body


def envelope(request, type_: str, result: Any, status: int = 200, message: str | None = None):
    """devpi's ``{"type", "result"[, "message"]}`` reply with ``status``."""
    request.response.status_int = status
    body = {"type": type_, "result": result}
    if message:
        body["message"] = message
    return body


def message(request, text: str, status: int = 200) -> dict:
    request.response.status_int = status
    return {"message": text}
