"""The core's own authentication hooks: devpi headers, tokens, local password hashes."""

from __future__ import annotations

from cheesecellar import hookimpl
from cheesecellar.auth.identity import Credentials
from cheesecellar.auth.identity import Identity
from cheesecellar.auth.identity import decode_basic
from cheesecellar.auth.passwords import verify_password
from cheesecellar.auth.tokens import TokenSigner
from cheesecellar.interfaces import ITokenSigner
from cheesecellar.model import users


@hookimpl(trylast=True)
def cellar_get_credentials(request) -> Credentials | None:
    # X-Devpi-Auth wins even when it is wrong: the request then stays anonymous.
    devpi_auth = request.headers.get("X-Devpi-Auth")
    if devpi_auth is not None:
        return decode_basic(devpi_auth)
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        return decode_basic(value)
    return None


@hookimpl(trylast=True)
def cellar_get_identity(request, credentials: Credentials | None) -> Identity | None:
    if credentials is None:
        return None
    record = users.get_user(request.tx, credentials.username)
    signer: TokenSigner = request.registry.getUtility(ITokenSigner)
    checked = signer.check(credentials.username, credentials.secret)
    if checked is not None:
        groups, tag = checked
        if signer.matches_password(tag, record.get("pwhash") if record else None):
            return Identity(credentials.username, tuple(groups), via_token=True)
        return None
    result = check_password(request.registry, credentials.username, credentials.secret, record)
    if result is None:
        return None
    return Identity(credentials.username, tuple(result))


def check_password(registry, username: str, password: str, record) -> list[str] | None:
    """Ask the auth hooks about a password; return the user's groups, or None if refused.

    ``root`` is checked against the local hash only, so that no plugin can lock out or
    take over the administrator.
    """
    if username == "root":
        return [] if record and verify_password(record.get("pwhash"), password) else None
    result = registry.cellar_pm.hook.cellar_auth_user(
        username=username, password=password, userconfig=record
    )
    if not result or result.get("status") != "ok":
        return None
    return list(result.get("groups") or [])


@hookimpl(trylast=True)
def cellar_auth_user(username: str, password: str, userconfig):
    if userconfig is None:
        return None
    if verify_password(userconfig.get("pwhash"), password):
        return {"status": "ok", "groups": []}
    return {"status": "reject"}
