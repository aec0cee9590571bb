"""Auth plugins: ``cellar_auth_user``, ``cellar_get_credentials``, ``cellar_get_identity``."""

from __future__ import annotations

import base64

import pytest

from cheesecellar import hookimpl
from cheesecellar.auth.identity import Credentials
from cheesecellar.auth.identity import Identity


class Directory:
    """A stand-in for LDAP: refuses mallory, knows ldapuser, leaves everyone else alone."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    @hookimpl
    def cellar_auth_user(self, username, password, userconfig):
        self.asked.append(username)
        if username == "mallory":
            return {"status": "reject"}
        if username == "ldapuser":
            if password == "secret" and userconfig is None:
                return {"status": "ok", "groups": ["team"]}
            return {"status": "reject"}
        return None


class ApiKeyHeader:
    """Reads credentials from ``X-Api-Key: user:secret`` (no base64)."""

    @hookimpl
    def cellar_get_credentials(self, request):
        value = request.headers.get("X-Api-Key")
        if value is None:
            return None
        username, _, secret = value.partition(":")
        return Credentials(username, secret)


class TrustedProxy:
    """Trusts ``X-Remote-User`` set by a single sign-on proxy in front of the server."""

    @hookimpl
    def cellar_get_identity(self, request, credentials):
        username = request.headers.get("X-Remote-User")
        if username is None:
            return None
        return Identity(username, ("sso",))


def basic(user: str, secret: str) -> dict[str, str]:
    value = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


def authstatus(session, **headers) -> list:
    return session.get("/+api", headers=headers).json()["result"]["authstatus"]


@pytest.fixture
def directory():
    return Directory()


@pytest.fixture
def server(make_cellar, directory):
    live = make_cellar(plugins=[directory])
    with live.session() as session:
        session.put("/mallory", json={"password": "local"}).raise_for_status()
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
    return live


# --- cellar_auth_user ------------------------------------------------------------------


def test_rejected_user_cannot_log_in_with_local_password(server):
    with server.session() as session:
        reply = session.post("/+login", json={"user": "mallory", "password": "local"})
        assert reply.status_code == 401
        assert authstatus(session, **basic("mallory", "local")) == ["noauth", "", []]


def test_plugin_user_without_local_record_logs_in(server):
    with server.session() as session:
        reply = session.post("/+login", json={"user": "ldapuser", "password": "secret"})
        assert reply.status_code == 200
        assert reply.json()["type"] == "proxyauth"
        session.login("ldapuser", "secret")
        assert authstatus(session) == ["ok", "ldapuser", ["team"]]
        session.logout()
        assert authstatus(session, **basic("ldapuser", "secret")) == ["ok", "ldapuser", ["team"]]
        assert session.get("/ldapuser").status_code == 404


def test_plugin_user_with_wrong_password_is_refused(server):
    with server.session() as session:
        reply = session.post("/+login", json={"user": "ldapuser", "password": "wrong"})
        assert reply.status_code == 401
        assert authstatus(session, **basic("ldapuser", "wrong")) == ["noauth", "", []]


def test_users_the_plugin_does_not_know_use_the_local_password(server, directory):
    with server.session() as session:
        session.login("alice", "alicepw")
        assert authstatus(session) == ["ok", "alice", []]
    assert "alice" in directory.asked


def test_root_is_never_asked_to_the_plugin(server, directory):
    with server.session() as session:
        assert authstatus(session, **basic("alice", "alicepw"))[:2] == ["ok", "alice"]
        assert directory.asked == ["alice"]  # the plugin is asked about other users
        session.login("root", "")
        assert authstatus(session)[:2] == ["ok", "root"]
        session.logout()
        assert authstatus(session, **basic("root", ""))[:2] == ["ok", "root"]
        assert session.post("/+login", json={"user": "root", "password": "x"}).status_code == 401
        assert authstatus(session, **basic("root", "x")) == ["noauth", "", []]
    assert directory.asked == ["alice"]


def test_group_from_plugin_is_a_principal(make_cellar):
    """``restrict_modify`` naming ``:team`` lets the directory's group create users."""
    live = make_cellar(plugins=[Directory()], restrict_modify=":team")
    with live.session() as session:
        assert session.put("/carl", json={"password": "pw"}).status_code == 403
        session.login("ldapuser", "secret")
        assert session.put("/carl", json={"password": "pw"}).status_code == 201


# --- cellar_get_credentials and cellar_get_identity ------------------------------------


def test_credentials_from_a_custom_header(make_cellar):
    live = make_cellar(plugins=[ApiKeyHeader()])
    with live.session() as session:
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
        token = session.login("alice", "alicepw")
        session.logout()
        for secret in ("alicepw", token):
            headers = {"X-Api-Key": f"alice:{secret}"}
            assert authstatus(session, **headers) == ["ok", "alice", []]
        assert authstatus(session, **{"X-Api-Key": "alice:wrong"}) == ["noauth", "", []]
        # Without the custom header the core's headers still work.
        assert authstatus(session, **basic("alice", "alicepw")) == ["ok", "alice", []]


def test_identity_from_a_trusted_proxy(make_cellar):
    live = make_cellar(plugins=[TrustedProxy()])
    with live.session() as session:
        session.login("root", "")
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
        session.put("/alice/dev", json={}).raise_for_status()
        session.logout()
        as_alice = {"X-Remote-User": "alice"}
        assert authstatus(session, **as_alice) == ["ok", "alice", ["sso"]]
        assert session.patch("/alice/dev", json=["title=sso"]).status_code == 403
        reply = session.patch("/alice/dev", json=["title=sso"], headers=as_alice)
        assert reply.status_code == 200
        assert reply.json()["result"]["title"] == "sso"
        as_bob = {"X-Remote-User": "bob"}
        assert session.patch("/alice/dev", json=["title=x"], headers=as_bob).status_code == 403
