"""A replica's HTTP client of its primary: a fresh token on every request."""

from __future__ import annotations

import dataclasses
import json
import threading

import requests

from cheesecellar import __version__
from cheesecellar.storage import ChangelogEntry
from cheesecellar_replica.protocol import BATCH
from cheesecellar_replica.protocol import BLOB_PATH
from cheesecellar_replica.protocol import CHANGES_PATH
from cheesecellar_replica.protocol import OUTSIDE_URL_HEADER
from cheesecellar_replica.protocol import SHA256_HEADER
from cheesecellar_replica.protocol import TOKEN_HEADER
from cheesecellar_replica.protocol import UUID_HEADER
from cheesecellar_replica.protocol import entry_from_json
from cheesecellar_replica.tokens import ReplicaTokens

#: Seconds to wait for the primary to connect and to send more data (beyond a long poll).
TIMEOUT = 30.0


class PrimaryError(Exception):
    """The primary could not be reached or gave an answer that cannot be used."""


class PrimaryRefused(PrimaryError):
    """The primary answered 403: it does not accept this replica (the secret differs,
    or it is not started with ``--role primary``)."""


class BlobGone(PrimaryError):
    """The primary has no blob at that path (removed since, or never had it)."""


@dataclasses.dataclass(frozen=True)
class ChangesAnswer:
    primary_uuid: str
    serial: int
    entries: list[ChangelogEntry]


class PrimaryClient:
    """Talks to the primary at ``url`` for the replica ``uuid``."""

    def __init__(
        self, url: str, tokens: ReplicaTokens, uuid: str, outside_url: str | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.tokens = tokens
        self.uuid = uuid
        self.outside_url = outside_url
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["User-Agent"] = f"cheesecellar-replica/{__version__}"
            session.trust_env = False  # a proxy from the environment would see the token
        return session

    def _headers(self) -> dict[str, str]:
        headers = {UUID_HEADER: self.uuid, TOKEN_HEADER: self.tokens.make(self.uuid)}
        if self.outside_url:
            headers[OUTSIDE_URL_HEADER] = self.outside_url
        return headers

    def _get(self, path: str, *, params=None, timeout=TIMEOUT, stream=False):
        try:
            response = self._session().get(
                self.url + path,
                params=params,
                headers=self._headers(),
                timeout=(TIMEOUT, timeout),
                stream=stream,
            )
        except requests.RequestException as exc:
            raise PrimaryError(f"cannot reach the primary at {self.url}: {exc}") from None
        if response.status_code == 403:
            raise PrimaryRefused(_message(response))
        return response

    def changes(self, since: int, wait: float, limit: int | None = None) -> ChangesAnswer:
        """The entries from serial ``since`` on, waiting up to ``wait`` s for one."""
        params = {"since": since, "wait": wait}
        if limit is not None:
            params["limit"] = limit
        response = self._get(CHANGES_PATH, params=params, timeout=wait + TIMEOUT)
        if response.status_code != 200:
            raise PrimaryError(f"the primary answered {response.status_code}: {_message(response)}")
        try:
            data = response.json()
            entries = [entry_from_json(item) for item in data["entries"]]
            return ChangesAnswer(str(data["primary-uuid"]), int(data["serial"]), entries)
        except (ValueError, KeyError, TypeError) as exc:
            raise PrimaryError(f"the primary sent a malformed changes answer: {exc}") from None

    def open_blob(self, path: str) -> requests.Response:
        """A streamed response with the blob at ``path``; close it when done."""
        response = self._get(BLOB_PATH + path, stream=True)
        if response.status_code == 404:
            response.close()
            raise BlobGone(f"the primary has no file {path}")
        if response.status_code != 200:
            response.close()
            raise PrimaryError(f"the primary answered {response.status_code} for {path}")
        response.raw.decode_content = True
        return response

    def small_blobs(self, paths: list[str]) -> dict[str, bytes]:
        """The content of each of ``paths`` the primary sent in one answer (see
        :data:`~cheesecellar_replica.protocol.BATCH`); the others are left out."""
        response = self._get(BLOB_PATH + BATCH, params={"path": paths})
        if response.status_code != 200:
            raise PrimaryError(f"the primary answered {response.status_code} for a batch")
        head, _newline, body = response.content.partition(b"\n")
        try:
            found, offset = {}, 0
            for item in json.loads(head):
                if "missing" not in item:
                    size = int(item["size"])
                    found[str(item["path"])] = body[offset : offset + size]
                    offset += size
        except (ValueError, KeyError, TypeError) as exc:
            raise PrimaryError(f"the primary sent a malformed batch: {exc}") from None
        return found

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()


def blob_sha256(response: requests.Response) -> str | None:
    return response.headers.get(SHA256_HEADER)


def _message(response: requests.Response) -> str:
    try:
        return str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        return response.reason or str(response.status_code)
