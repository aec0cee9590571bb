"""Reads a replica asks of its primary's public URLs, and the serial the answers name.

A replica's mirror pages and files go through the primary, which fetches upstream, caches
and commits. A read on the primary may commit in a transaction of its own (a mirror page
fetched from upstream), so its ``X-Devpi-Serial`` can predate that commit: for a replica
the primary also names its newest serial once the answer is ready, in
:data:`LATEST_SERIAL_HEADER`, and the replica waits for that one.
"""

from __future__ import annotations

import requests

from cheesecellar import __version__
from cheesecellar.interfaces import IStorage
from cheesecellar_replica.protocol import TOKEN_HEADER
from cheesecellar_replica.protocol import UUID_HEADER
from cheesecellar_replica.tokens import ReplicaTokens

#: The primary's newest serial once a replica's read was answered.
LATEST_SERIAL_HEADER = "X-Cellar-Latest-Serial"
#: Seconds to connect to the primary, and to wait for each read of its answer; a mirror
#: page may take the primary two upstream timeouts.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0


class PrimaryUnavailable(Exception):
    """The primary could not be reached, or failed to answer a read."""


def latest_serial_tween_factory(handler, registry):
    """On a primary, tell a replica the newest serial after its read (see module doc)."""
    if registry.cellar_settings.role != "primary":
        return handler
    storage = registry.getUtility(IStorage)

    def latest_serial_tween(request):
        response = handler(request)
        if UUID_HEADER in request.headers:
            response.headers[LATEST_SERIAL_HEADER] = str(storage.last_serial())
        return response

    return latest_serial_tween


class PrimaryReads:
    """GETs of the primary's public URLs on behalf of a replica's readers."""

    def __init__(self, url: str, tokens: ReplicaTokens, uuid: str) -> None:
        self.url = url.rstrip("/")
        self.tokens = tokens
        self.uuid = uuid
        self.session = requests.Session()
        self.session.trust_env = False  # the token is for the primary only
        self.session.headers["User-Agent"] = f"cheesecellar-replica/{__version__}"

    def open(self, path: str, accept: str = "*/*", method: str = "GET") -> requests.Response:
        """The primary's streamed answer to ``path``; close it when done. Raises
        :class:`PrimaryUnavailable` when the primary cannot be reached."""
        headers = {
            "Accept": accept,
            UUID_HEADER: self.uuid,
            TOKEN_HEADER: self.tokens.make(self.uuid),
        }
        try:
            answer = self.session.request(
                method,
                self.url + path,
                headers=headers,
                stream=True,
                allow_redirects=False,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            )
        except requests.RequestException as exc:
            raise PrimaryUnavailable(f"cannot reach the primary at {self.url}: {exc}") from None
        answer.raw.decode_content = True
        return answer

    def serial_after(self, path: str, accept: str, method: str = "GET") -> int:
        """Have the primary answer ``path`` (caching what it fetches); return the serial
        that holds what it committed. A 5xx answer raises :class:`PrimaryUnavailable`."""
        with self.open(path, accept, method) as answer:
            if answer.status_code >= 500:
                raise PrimaryUnavailable(
                    f"the primary answered {answer.status_code} for {path}: {message_of(answer)}"
                )
            serial = answer.headers.get(LATEST_SERIAL_HEADER)
            serial = serial or answer.headers.get("X-Devpi-Serial", "-1")
            if method == "GET":
                answer.content  # noqa: B018 - read to the end, so the connection is reused
        try:
            return int(serial)
        except ValueError:
            raise PrimaryUnavailable(f"the primary sent no serial for {path}") from None

    def close(self) -> None:
        self.session.close()


def message_of(answer: requests.Response) -> str:
    """The message of the primary's error answer (JSON or the reason phrase)."""
    try:
        return str(answer.json()["message"])
    except (ValueError, KeyError, TypeError, requests.RequestException):
        return answer.reason or str(answer.status_code)
