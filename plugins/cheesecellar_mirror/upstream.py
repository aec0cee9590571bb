"""HTTP client for one upstream simple index: pooled, retrying, and careful with credentials."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote
from urllib.parse import unquote
from urllib.parse import urljoin
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import requests
import requests.adapters

from cheesecellar import __version__
from cheesecellar_mirror.namelist import write_sorted_names
from cheesecellar_mirror.simpleparse import ParseError
from cheesecellar_mirror.simpleparse import UpstreamFile
from cheesecellar_mirror.simpleparse import UpstreamPage
from cheesecellar_mirror.simpleparse import iter_list_names
from cheesecellar_mirror.simpleparse import origin
from cheesecellar_mirror.simpleparse import parse_project_page

__all__ = [
    "Fetched",
    "ListFetched",
    "Upstream",
    "UpstreamError",
    "UpstreamFile",
    "UpstreamPage",
    "mask_url",
    "strip_credentials",
]

log = logging.getLogger(__name__)

#: PEP 691 JSON first, PEP 503 HTML as the fallback.
SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
REDIRECT_LIMIT = 10
CHUNK_SIZE = 1 << 16
_PASSWORD_IN_TEXT = re.compile(r"(//[^/@:\s]*):[^/\s]*@")
_TOKEN_IN_TEXT = re.compile(r"//[^/@:\s]+@")
_TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
T = TypeVar("T")


class UpstreamError(Exception):
    """Upstream could not give an answer: an outage, a refusal or a body that does not parse.

    :ivar url: the URL asked for, credentials masked.
    :ivar status: the HTTP status of the last reply, or ``None`` when there was none.
    """

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(mask_text(message))
        self.url = None if url is None else mask_url(url)
        self.status = status


@dataclasses.dataclass(frozen=True)
class Fetched:
    """The outcome of a project page request: ``ok``, ``not_modified`` or ``not_found``."""

    status: str
    page: UpstreamPage | None = None


@dataclasses.dataclass(frozen=True)
class ListFetched:
    """The outcome of a project list request: ``ok`` or ``not_modified``."""

    status: str
    count: int = 0
    etag: str | None = None
    last_modified: str | None = None


def mask_url(url: str) -> str:
    """Hide the credentials of a URL: ``user:****@`` for a password, ``****@`` for a
    user name alone (the form token-based indexes use); other URLs are unchanged."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url
    user = f"{userinfo.split(':', 1)[0]}:" if ":" in userinfo else ""
    return urlunsplit(parts._replace(netloc=f"{user}****@{host}"))


def mask_text(text: str) -> str:
    """Mask the credentials of every URL inside a free text, as :func:`mask_url` does."""
    return _TOKEN_IN_TEXT.sub("//****@", _PASSWORD_IN_TEXT.sub(r"\1:****@", text))


def strip_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """Split ``https://user:password@host/...`` into the URL without them and ``(user, password)``.

    A URL with a user name only gives an empty password, as pip treats it.
    """
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), (unquote(user), unquote(password))


class _ServerError(Exception):
    """A 5xx reply: worth another attempt."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Upstream:
    """Talks to one simple index.

    :param url: the index URL; embedded ``user:password`` becomes the credentials.
    :param auth: credentials for the index host; wins over ones embedded in ``url``.
    :param timeout: seconds, or a ``(connect, read)`` pair, for every request.
    :param retries: further attempts after a timeout, connection error or 5xx.
    :param backoff: the first pause between attempts; it doubles with each one.
    :param max_page_bytes: the largest project page accepted.
    """

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        timeout: float | tuple[float, float] = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        user_agent: str = f"cheesecellar/{__version__}",
        max_page_bytes: int = 64 << 20,
    ) -> None:
        url = url if url.endswith("/") else url + "/"
        self.url, embedded = strip_credentials(url)
        self.display_url = mask_url(url)
        self._auth = auth if auth is not None else embedded
        self._origin = origin(self.url)
        self.timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_page_bytes = max_page_bytes
        self._session = _make_session(user_agent)

    def __repr__(self) -> str:
        return f"<Upstream {self.display_url}>"

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    # --- the simple API -----------------------------------------------------------------

    def fetch_project(
        self, project: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        """Fetch a project page, conditionally when validators are given.

        :raises UpstreamError: on an outage, an unexpected status or a body that does not parse.
        """
        url = f"{self.url}{quote(project, safe='')}/"
        headers = _conditional(etag, last_modified)
        return self._retrying(url, lambda: self._project_once(url, project, headers))

    def _project_once(self, url: str, project: str, headers: dict[str, str]) -> Fetched:
        with self._get(url, headers) as response:
            if response.status_code in (404, 410):
                return Fetched("not_found")
            if response.status_code == 304:
                return Fetched("not_modified")
            _require_ok(response, url)
            body = _read_limited(response, self.max_page_bytes, url)
        try:
            page = parse_project_page(body, _content_type(response), response.url, project)
        except ParseError as exc:
            raise UpstreamError(f"GET {url}: {exc}", url=url, status=200) from None
        return Fetched("ok", dataclasses.replace(page, **_validators(response)))

    def fetch_project_list(
        self, dest: Path, *, etag: str | None = None, last_modified: str | None = None
    ) -> ListFetched:
        """Stream the project list into ``dest`` (see :mod:`.namelist`), replacing it atomically.

        :raises UpstreamError: on an outage, an unexpected status or a body that does not parse;
            ``dest`` is then left as it was.
        """
        headers = _conditional(etag, last_modified)
        return self._retrying(self.url, lambda: self._list_once(Path(dest), headers))

    def _list_once(self, dest: Path, headers: dict[str, str]) -> ListFetched:
        with self._get(self.url, headers) as response:
            etag = response.headers.get("ETag")
            last_modified = response.headers.get("Last-Modified")
            if response.status_code == 304:
                etag = etag or headers.get("If-None-Match")
                last_modified = last_modified or headers.get("If-Modified-Since")
                return ListFetched("not_modified", etag=etag, last_modified=last_modified)
            _require_ok(response, self.url)
            chunks = response.iter_content(CHUNK_SIZE)
            try:
                names = iter_list_names(chunks, _content_type(response), response.url)
                count = write_sorted_names(names, dest)
            except ParseError as exc:
                raise UpstreamError(f"GET {self.url}: {exc}", url=self.url, status=200) from None
        return ListFetched("ok", count=count, etag=etag, last_modified=last_modified)

    # --- release files ------------------------------------------------------------------

    def open_file(self, url: str) -> requests.Response:
        """Open a file download; the caller reads ``iter_content`` and closes the response.

        :raises UpstreamError: when no 200 reply came; ``status`` holds the last status.
        """
        return self._retrying(url, lambda: self._open_once(url))

    def fetch_bytes(self, url: str, limit: int) -> bytes:
        """Download a small file (a PEP 658 metadata file) of at most ``limit`` bytes."""

        def once() -> bytes:
            with self._open_once(url) as response:
                return _read_limited(response, limit, url)

        return self._retrying(url, once)

    def _open_once(self, url: str) -> requests.Response:
        # Hashes are over the stored bytes, so ask for them as they are (pip does the same).
        response = self._get(url, {"Accept-Encoding": "identity"})
        if response.status_code != 200:
            response.close()
            status = response.status_code
            raise UpstreamError(f"GET {url}: HTTP {status}", url=url, status=status)
        return response

    # --- transport ----------------------------------------------------------------------

    def _retrying(self, url: str, attempt: Callable[[], T]) -> T:
        """Run ``attempt``, again after timeouts, connection errors and 5xx, with backoff."""
        status = None
        for number in range(self.retries + 1):
            if number:
                time.sleep(self.backoff * 2 ** (number - 1))
            try:
                return attempt()
            except _ServerError as exc:
                status, cause = exc.status, f"HTTP {exc.status}"
            except _TRANSIENT as exc:
                status, cause = None, _describe(exc)
            except requests.exceptions.RequestException as exc:
                raise UpstreamError(f"GET {url}: {_describe(exc)}", url=url) from None
            log.info("GET %s failed (attempt %d): %s", mask_url(url), number + 1, cause)
        attempts = self.retries + 1
        message = f"GET {url} failed after {attempts} attempt(s): {cause}"
        raise UpstreamError(message, url=url, status=status)

    def _get(self, url: str, headers: dict[str, str]) -> requests.Response:
        """GET following redirects by hand, so credentials go to the index origin only."""
        for _ in range(REDIRECT_LIMIT + 1):
            response = self._session.get(
                url,
                headers=headers,
                auth=self._auth if origin(url) == self._origin else None,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
            target = self._session.get_redirect_target(response)
            if target is None:
                break
            response.close()
            url = urljoin(response.url, target)
        else:
            raise UpstreamError(f"GET {url}: more than {REDIRECT_LIMIT} redirects", url=url)
        if response.status_code >= 500:
            response.close()
            raise _ServerError(response.status_code)
        return response


def _make_session(user_agent: str) -> requests.Session:
    session = requests.Session()
    # Retries are ours (they cover reading the body too), so the adapter makes one attempt.
    adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


def _conditional(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {"Accept": SIMPLE_ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _validators(response: requests.Response) -> dict:
    serial = response.headers.get("X-PyPI-Last-Serial", "").strip()
    return {
        "etag": response.headers.get("ETag"),
        "last_modified": response.headers.get("Last-Modified"),
        "serial": int(serial) if serial.isdigit() else None,
    }


def _content_type(response: requests.Response) -> str | None:
    return response.headers.get("Content-Type")


def _require_ok(response: requests.Response, url: str) -> None:
    if response.status_code not in (200, 203):
        status = response.status_code
        raise UpstreamError(f"GET {url}: unexpected HTTP {status}", url=url, status=status)


def _read_limited(response: requests.Response, limit: int, url: str) -> bytes:
    body = bytearray()
    for chunk in response.iter_content(CHUNK_SIZE):
        body += chunk
        if len(body) > limit:
            raise UpstreamError(f"GET {url}: body larger than {limit} bytes", url=url)
    return bytes(body)


def _describe(exc: Exception) -> str:
    """A short, credential-free cause for a requests exception."""
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc):
        return "timed out"
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)  # urllib3 wraps the socket error
    return mask_text(f"{type(exc).__name__}: {reason}")[:300]
