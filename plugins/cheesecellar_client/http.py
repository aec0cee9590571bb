"""Talking to the server: one session, credentials, JSON envelopes and error messages."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urljoin

if TYPE_CHECKING:
    import requests

    from cheesecellar_client.state import ClientState

#: Seconds to wait for a connection and for each read from the server.
TIMEOUT = (15, 300)
#: The OS error inside a requests connection error, e.g. "[Errno 111] Connection refused".
ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
#: The header that carries ``user:token`` (devpi's name for it).
AUTH_HEADER = "X-Devpi-Auth"
#: What an index name looks like in the client's words.
INDEX_HELP = "give an index as USER/INDEX, or select one with: cellar use USER/INDEX"


class ClientError(Exception):
    """A command cannot go on; ``message`` tells the user why and what to do."""

    def __init__(self, message: str, *, status: int | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.exit_code = exit_code


class Client:
    """The server the client state points at, with the stored login."""

    def __init__(self, state: ClientState) -> None:
        self.state = state
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        """One HTTP session per command, made on first use (``requests`` loads lazily)."""
        if self._session is None:
            self._session = _make_session()
        return self._session

    def require_url(self) -> str:
        """The server root URL; fails when ``cellar use`` has not been run."""
        if not self.state.url:
            raise ClientError("no server selected; run: cellar use URL")
        return self.state.url

    def require_index(self, index: str | None = None) -> str:
        """``index`` (or the current index) as ``user/index``; a bare name means the login's."""
        self.require_url()
        name = (index or self.state.index or "").strip("/")
        if not name:
            raise ClientError(f"no index selected; {INDEX_HELP}")
        if "/" not in name:
            if not self.state.username:
                raise ClientError(f"index {name!r} has no user part; {INDEX_HELP}")
            name = f"{self.state.username}/{name}"
        parts = name.split("/")
        if len(parts) != 2 or not all(parts) or any(p.startswith("+") for p in parts):
            raise ClientError(f"invalid index name {name!r}; {INDEX_HELP}")
        return name

    def url_for(self, path: str) -> str:
        """An absolute URL for a server path such as ``/alice/dev``; URLs pass through."""
        if path.startswith(("http://", "https://")):
            return path
        return urljoin(self.require_url() + "/", path.lstrip("/"))

    def index_url(self, index: str | None = None) -> str:
        """Absolute URL of ``/user/index/``."""
        return self.url_for(self.require_index(index) + "/")

    def simple_url(self, index: str | None = None) -> str:
        """Absolute URL of ``/user/index/+simple/``."""
        return self.index_url(index) + "+simple/"

    def auth_header(self) -> dict[str, str]:
        """The ``X-Devpi-Auth`` header of the stored login, or nothing."""
        if not self.state.logged_in:
            return {}
        pair = f"{self.state.username}:{self.state.token}".encode()
        return {AUTH_HEADER: base64.b64encode(pair).decode("ascii")}

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        ok: Sequence[int] = (200, 201),
        auth: bool = True,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send a request; a status not in ``ok`` raises :class:`ClientError`.

        :param json: a JSON body; JSON calls also ask for a JSON reply.
        :param auth: whether to send the stored login.
        """
        import requests

        url = self.url_for(path)
        sent = self._headers(json is not None or data is None, headers, auth)
        try:
            response = self.session.request(
                method,
                url,
                json=json,
                data=data,
                headers=sent,
                stream=stream,
                params=params,
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise ClientError(f"{method} {url}: cannot reach the server ({_reason(exc)})") from exc
        if response.status_code not in ok:
            raise http_error(response, logged_in=self.state.logged_in and auth)
        return response

    def _headers(
        self, wants_json: bool, extra: Mapping[str, str] | None, auth: bool
    ) -> dict[str, str]:
        headers = {"Accept": "application/json"} if wants_json else {}
        if auth:
            headers.update(self.auth_header())
        headers.update(extra or {})
        return headers

    def get_json(self, path: str, *, params: Mapping[str, str] | None = None) -> dict:
        """GET ``path`` as JSON and return the envelope's ``result``."""
        response = self.request("GET", path, params=params)
        return result_of(response)


def _make_session() -> requests.Session:
    import requests

    from cheesecellar import __version__

    class Session(requests.Session):
        def rebuild_auth(self, prepared_request, response):
            # requests drops Authorization when a redirect leaves the host; do the same
            # for the login token (a file may redirect to an upstream mirror).
            if self.should_strip_auth(response.request.url, prepared_request.url):
                prepared_request.headers.pop(AUTH_HEADER, None)
            super().rebuild_auth(prepared_request, response)

    session = Session()
    session.headers["User-Agent"] = f"cellar-client/{__version__}"
    return session


def result_of(response: requests.Response) -> Any:
    """The ``result`` of a JSON envelope; a reply that is not one raises ClientError."""
    try:
        body = response.json()
    except ValueError as exc:
        raise ClientError(f"{response.url}: the server did not answer with JSON") from exc
    if not isinstance(body, dict) or "result" not in body:
        raise ClientError(f"{response.url}: the reply has no result")
    return body["result"]


def server_message(response: requests.Response) -> str:
    """The server's ``message`` from a JSON error body, else the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str) and message.strip():
        return message.strip()
    return response.reason or "error"


def http_error(response: requests.Response, *, logged_in: bool) -> ClientError:
    """A ClientError for an unexpected status, with the server's words and a hint."""
    request = response.request
    status = response.status_code
    where = f"{request.method} {_public_url(response.url)}"
    lines = [where, f"{status} {server_message(response)}"]
    hint = _hint(status, logged_in)
    if hint:
        lines.append(hint)
    return ClientError("\n".join(lines), status=status)


def _hint(status: int, logged_in: bool) -> str | None:
    if status == 401:
        if logged_in:
            return "hint: your login may have expired; log in again with: cellar login"
        return "hint: log in with: cellar login USER"
    if status == 403:
        if logged_in:
            return "hint: the logged-in user is not allowed to do this"
        return "hint: you are not logged in; log in with: cellar login USER"
    return None


def _public_url(url: str) -> str:
    # Never echo credentials that may sit in a URL's user part.
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    host_and_path = rest.split("@", 1)[1]
    return f"{scheme}://***@{host_and_path}"


def _reason(exc: Exception) -> str:
    # requests wraps the socket error in several layers; the errno text is what matters.
    text = str(exc)
    found = ERRNO_TEXT.search(text)
    if found:
        return found.group(1).strip()
    if "timed out" in text.lower():
        return "timed out"
    return text if len(text) < 200 else text[:200] + "..."
