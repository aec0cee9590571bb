"""Who is asking: credentials from headers, the identity they prove, its principals."""

from __future__ import annotations

import base64
import binascii
import dataclasses

from pyramid.authorization import Authenticated
from pyramid.authorization import Everyone

ANONYMOUS = ":ANONYMOUS:"
AUTHENTICATED = ":AUTHENTICATED:"


@dataclasses.dataclass(frozen=True)
class Credentials:
    """A user name and a secret (a password or a login token), as sent."""

    username: str
    secret: str


@dataclasses.dataclass(frozen=True)
class Identity:
    """An authenticated user and the groups an auth plugin gave it."""

    username: str
    groups: tuple[str, ...] = ()
    via_token: bool = False


def decode_basic(value: str) -> Credentials | None:
    """Decode ``base64(user:secret)``; the first ``:`` separates user from secret."""
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, secret = text.partition(":")
    if not sep or not username:
        return None
    return Credentials(username, secret)


def user_principal(username: str) -> str:
    return f"u:{username}"


def group_principal(group: str) -> str:
    return f"g:{group}"


def principal_for_acl_entry(entry: str) -> str:
    """Map an ACL entry of an index config (``alice``, ``:team``, ``:ANONYMOUS:``)."""
    upper = entry.upper()
    if upper == ANONYMOUS:
        return Everyone
    if upper == AUTHENTICATED:
        return Authenticated
    if entry.startswith(":"):
        return group_principal(entry[1:])
    return user_principal(entry)


def principals_for(identity: Identity | None) -> list[str]:
    """Principals of a request: everyone; plus authenticated, the user and its groups."""
    if identity is None:
        return [Everyone]
    return [
        Everyone,
        Authenticated,
        user_principal(identity.username),
        *(group_principal(g) for g in identity.groups),
    ]
