"""Benchmark fixtures made through the API: user ``bench``, its login, index ``bench/dev``."""

from __future__ import annotations

import base64

import requests

USER = "bench"
PASSWORD = "bench-password"
INDEX = "dev"
JSON = {"Accept": "application/json", "Content-Type": "application/json"}


class SetupFailed(RuntimeError):
    """The server refused to create the benchmark user or index."""


def _check(reply: requests.Response, what: str, *expected: int) -> dict:
    if reply.status_code not in expected:
        raise SetupFailed(f"{what}: HTTP {reply.status_code} {reply.text[:300]}")
    return reply.json()


def populate(base_url: str) -> dict[str, str]:
    """Create the user and the index; return the ``X-Devpi-Auth`` header of the user."""
    with requests.Session() as session:
        session.headers.update(JSON)
        reply = session.put(f"{base_url}/{USER}", json={"password": PASSWORD})
        _check(reply, f"create user {USER}", 201)
        reply = session.post(f"{base_url}/+login", json={"user": USER, "password": PASSWORD})
        token = _check(reply, f"login {USER}", 200)["result"]["password"]
        auth = {"X-Devpi-Auth": base64.b64encode(f"{USER}:{token}".encode()).decode()}
        reply = session.put(
            f"{base_url}/{USER}/{INDEX}", json={"bases": ["root/pypi"]}, headers=auth
        )
        _check(reply, f"create index {USER}/{INDEX}", 200, 201)
        _check_authenticated(session, base_url, auth)
    return auth


def _check_authenticated(session: requests.Session, base_url: str, auth: dict) -> None:
    # Without this a broken token would silently benchmark the anonymous path twice.
    status = _check(session.get(f"{base_url}/+api", headers=auth), "GET /+api", 200)
    if status["result"]["authstatus"][:2] != ["ok", USER]:
        raise SetupFailed(f"token not accepted: authstatus {status['result']['authstatus']}")
