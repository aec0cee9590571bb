"""The server's endpoint discovery (``GET /+api``) and index names as the client writes them."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.http import result_of

#: Where a root URL ends and the login endpoint begins.
LOGIN_SUFFIX = "/+login"


@dataclasses.dataclass(frozen=True)
class ApiConfig:
    """What ``/+api`` (or ``/user/index/+api``) says about the server and the index."""

    root: str
    authstatus: str
    authuser: str
    features: tuple[str, ...]
    index: str | None  # "user/index" when asked about an index
    urls: dict[str, str]


def fetch_api(client: Client, url: str, *, auth: bool = True) -> ApiConfig:
    """GET ``url/+api`` and read it; ``url`` is a root or index URL without the ``+api``."""
    response = client.request("GET", url.rstrip("/") + "/+api", auth=auth)
    result = result_of(response)
    if not isinstance(result, dict) or "login" not in result:
        raise ClientError(f"{url} does not look like a cheesecellar or devpi server")
    login = str(result["login"])
    root = login[: -len(LOGIN_SUFFIX)] if login.endswith(LOGIN_SUFFIX) else login
    status = result.get("authstatus") or ["noauth", ""]
    index_url = result.get("index")
    index = index_url[len(root) :].strip("/") if index_url else None
    urls = {key: value for key, value in result.items() if isinstance(value, str)}
    return ApiConfig(root, status[0], status[1], tuple(result.get("features", ())), index, urls)


def split_server_url(text: str) -> str:
    """A server URL as typed, minus a trailing ``/+simple/``; credentials are refused."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"invalid URL {text!r}: expected http://HOST[:PORT][/USER/INDEX]")
    if parts.username or parts.password:
        raise ClientError("do not put credentials in the URL; log in with: cellar login USER")
    url = text.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if url.endswith("/+simple"):
        url = url[: -len("/+simple")]
    return url
