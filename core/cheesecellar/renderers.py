"""Response bodies: devpi's JSON envelope (indent 2, trailing newline) and error bodies."""

from __future__ import annotations

import json
from typing import Any

JSON_TYPE = "application/json"


def dumps_api(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


class APIJSONRenderer:
    """Renderer ``cellarjson``: a view returns the envelope dict, this writes it."""

    def __init__(self, info) -> None:
        pass

    def __call__(self, value, system) -> str:
        request = system.get("request")
        if request is not None:
            request.response.content_type = JSON_TYPE
        return dumps_api(value)


def wants_json(request) -> bool:
    """devpi's rule: JSON when ``Accept`` contains ``application/json`` anywhere."""
    return JSON_TYPE in request.headers.get("Accept", "")


def reason_phrase(message: str) -> str:
    """A message made safe for the HTTP status line, where pip and twine show it."""
    line = " ".join(message.split())
    return line.encode("latin-1", "replace").decode("latin-1")[:200]
