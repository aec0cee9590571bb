"""Writes sent to a replica go to its primary; the answer waits for the write's serial."""

from __future__ import annotations

import logging

import requests
from pyramid.response import Response

from cheesecellar.interfaces import IStorage
from cheesecellar.tweens import READ_METHODS
from cheesecellar.views.errors import error_response

log = logging.getLogger(__name__)

#: Headers that belong to one connection, not to the request or response they carry.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
#: Seconds a relayed write waits for the replica to import the primary's serial.
RELAY_WAIT = 30.0
#: Seconds the primary may take to answer a relayed write (a large upload, a push).
RELAY_TIMEOUT = 300.0
#: Set when the answer goes out before the write's serial arrived here.
BEHIND_HEADER = "X-Cellar-Replica-Behind"
#: The URL the primary builds its redirects and links on (see ``--outside-url``).
OUTSIDE_URL = "X-Outside-Url"
#: Bytes of the primary's answer passed on at a time.
CHUNK = 64 * 1024


def relay_tween_factory(handler, registry):
    """On a replica, send every request that may write to the primary instead."""
    if registry.cellar_settings.role != "replica":
        return handler
    relay = WriteRelay(registry)

    def relay_tween(request):
        if request.method in READ_METHODS:
            return handler(request)
        return relay.forward(request)

    return relay_tween


class WriteRelay:
    """Forwards a request to the primary with the client's headers and body."""

    def __init__(self, registry) -> None:
        self.primary_url = registry.cellar_settings.primary_url.rstrip("/")
        self.storage = registry.getUtility(IStorage)
        self.session = requests.Session()
        self.session.trust_env = False

    def forward(self, request) -> Response:
        url = self.primary_url + request.path_info
        if request.query_string:
            url += "?" + request.query_string
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        # Redirects and URLs in the primary's answer lead back to this replica.
        headers[OUTSIDE_URL] = request.application_url
        try:
            answer = self.session.request(
                request.method,
                url,
                data=request.body_file_seekable if request.content_length else None,
                headers=headers,
                allow_redirects=False,
                stream=True,
                timeout=(30.0, RELAY_TIMEOUT),
            )
        except requests.RequestException as exc:
            log.warning("could not relay %s %s to the primary: %s", request.method, url, exc)
            return error_response(request, 502, f"cannot reach the primary to relay this: {exc}")
        response = Response(status=answer.status_code)
        response.headerlist = [
            (name, value)
            for name, value in answer.headers.items()
            if name.lower() not in HOP_BY_HOP and name.lower() not in ("date", "server")
        ]
        if answer.is_redirect:  # requests read its (short) body already, and decoded it
            response.headers.pop("Content-Encoding", None)
            response.body = answer.content
        else:  # passed on as it comes, still encoded: its length and encoding hold
            response.app_iter = RelayedBody(answer)
            if "Content-Length" in answer.headers:
                response.headers["Content-Length"] = answer.headers["Content-Length"]
        self._wait_for_serial(answer, response)
        return response

    def _wait_for_serial(self, answer, response: Response) -> None:
        """Answer once the write is readable here, so a client reads its own write."""
        try:
            serial = int(answer.headers.get("X-Devpi-Serial", "-1"))
        except ValueError:
            return
        if self.storage.wait_for_commit(serial, RELAY_WAIT) < serial:
            response.headers[BEHIND_HEADER] = f"serial {serial} not replicated yet"


class RelayedBody:
    """The primary's answer streamed to the client, never held whole in memory; closed
    (releasing the connection) when the client is done or gone."""

    def __init__(self, answer) -> None:
        self.answer = answer

    def __iter__(self):
        return self.answer.raw.stream(CHUNK, decode_content=False)

    def close(self) -> None:
        self.answer.close()
