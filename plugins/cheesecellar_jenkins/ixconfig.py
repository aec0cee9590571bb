"""The index options ``uploadtrigger_jenkins`` and ``webhook_urls``: checks and masking."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from cheesecellar.errors import BadRequest
from cheesecellar.model.indextypes import ConfigKey
from cheesecellar.model.indextypes import to_list

JENKINS_KEY = "uploadtrigger_jenkins"
WEBHOOKS_KEY = "webhook_urls"
#: The placeholder devpi users write in a Jenkins job URL: the project's name.
PKGNAME = "{pkgname}"
MAX_URL_LENGTH = 2000
MAX_WEBHOOKS = 10
MASK = "****"
#: Query parameters that carry secrets (Jenkins' "Trigger builds remotely" token).
SECRET_PARAMS = frozenset({"token"})
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def check_url(key: str, value: Any, *, placeholders: bool = False) -> str:
    """Return ``value`` if it is a usable http(s) URL, else raise a 400 that says why."""
    if not isinstance(value, str):
        raise BadRequest(f"{key!r} must be an http:// or https:// URL, got {value!r}")
    url = value.strip()
    shown = mask_url(url)
    if not url.startswith(("http://", "https://")):
        raise BadRequest(f"{key!r} must be an http:// or https:// URL, got {shown!r}")
    if any(char.isspace() for char in url) or len(url) > MAX_URL_LENGTH:
        raise BadRequest(f"{key!r}: {shown!r} is not a URL (no spaces, at most 2000 characters)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise BadRequest(f"{key!r}: {shown!r} is not a valid URL") from None
    if not parts.hostname or parts.fragment:
        raise BadRequest(f"{key!r}: {shown!r} needs a host name and no #fragment")
    unknown = [p for p in _PLACEHOLDER.findall(url) if not placeholders or p != PKGNAME]
    if unknown:
        allowed = f"only {PKGNAME} is replaced" if placeholders else "no placeholders are replaced"
        raise BadRequest(f"{key!r}: unknown placeholder {unknown[0]} in {shown!r}; {allowed}")
    return url


def to_jenkins_url(key: str, value: Any) -> str | None:
    """A Jenkins job URL, ``{pkgname}`` allowed; empty means no trigger."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return check_url(key, value, placeholders=True)


def to_webhook_urls(key: str, value: Any) -> list[str]:
    """A list of webhook URLs (a comma string is split, as for every list option)."""
    try:
        urls = to_list(key, value)
    except BadRequest:
        raise BadRequest(f"{key!r} must be a list of http:// or https:// URLs") from None
    if len(urls) > MAX_WEBHOOKS:
        raise BadRequest(f"{key!r} takes at most {MAX_WEBHOOKS} URLs")
    return [check_url(key, url) for url in urls]


#: What ``cellar_indexconfig_defaults`` gives for stage indexes: absent until set.
INDEX_KEYS = {
    JENKINS_KEY: ConfigKey(JENKINS_KEY, to_jenkins_url),
    WEBHOOKS_KEY: ConfigKey(WEBHOOKS_KEY, to_webhook_urls),
}


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``https://user:token@host/...`` as the URL without them and ``(user, token)``."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), (user, password)


def mask_url(url: str) -> str:
    """``url`` with its secrets hidden: the password (or a lone user name, which some
    services use as a token) and the value of a ``token`` query parameter."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        user = userinfo.partition(":")[0] + ":" if ":" in userinfo else ""
        netloc = f"{user}{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name in SECRET_PARAMS for name, _ in pairs):
            masked = [(name, MASK if name in SECRET_PARAMS else v) for name, v in pairs]
            query = urlencode(masked, safe="*{}")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def mask_config(config: dict) -> dict:
    """An index configuration with the secrets of its trigger URLs hidden."""
    shown = dict(config)
    if isinstance(shown.get(JENKINS_KEY), str):
        shown[JENKINS_KEY] = mask_url(shown[JENKINS_KEY])
    if isinstance(shown.get(WEBHOOKS_KEY), list):
        urls = shown[WEBHOOKS_KEY]
        shown[WEBHOOKS_KEY] = [mask_url(u) if isinstance(u, str) else u for u in urls]
    return shown


def masking_present(present: Callable[[dict, bool], dict] | None) -> Callable[[dict, bool], dict]:
    """Wrap an index type's ``present``: readers other than root and the owner see the
    trigger URLs masked."""

    def present_config(config: dict, privileged: bool) -> dict:
        shown = dict(config) if present is None else present(config, privileged)
        return shown if privileged else mask_config(shown)

    return present_config
