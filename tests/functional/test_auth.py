"""Login, login tokens and the two credential headers, as devpi-client, pip and twine use them."""

from __future__ import annotations

import base64
import itertools
import time

import pytest

from cheesecellar import hookimpl
from cheesecellar.auth.secret import load_server_secret
from cheesecellar.auth.tokens import TokenSigner
from cheesecellar.interfaces import ITokenSigner

NOAUTH = ["noauth", "", []]
_numbers = itertools.count(1)


@pytest.fixture
def alice(server):
    """A fresh user (password ``pw``) with a login token; the user's name is ``.user``."""
    name = f"alice{next(_numbers)}"
    with server.session() as session:
        session.put(f"/{name}", json={"password": "pw"}).raise_for_status()
        session.token = session.login(name, "pw")
        session.user = name
        yield session


def b64(user: str, secret: str) -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def authstatus(session, **headers) -> list:
    reply = session.get("/+api", headers=headers)
    assert reply.status_code == 200
    return reply.json()["result"]["authstatus"]


# --- login -----------------------------------------------------------------------------


def test_login(server, anon):
    anon.put("/lena", json={"password": "pw"}).raise_for_status()
    reply = anon.post("/+login", json={"user": "lena", "password": "pw"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["type"] == "proxyauth"
    assert body["message"] == "login successful"
    assert body["result"]["expiration"] == 36000
    token = body["result"]["password"]
    assert isinstance(token, str)
    assert token


@pytest.mark.parametrize(
    ("user", "password"), [("root", "wrong"), ("nonexist", "pw"), ("nonexist", "")]
)
def test_login_refused_is_401(anon, user, password):
    reply = anon.post("/+login", json={"user": user, "password": password})
    assert reply.status_code == 401
    assert reply.json() == {"message": f"user {user!r} could not be authenticated"}


def test_login_with_wrong_password_is_401(alice, anon):
    reply = anon.post("/+login", json={"user": alice.user, "password": "wrong"})
    assert reply.status_code == 401


def test_login_with_malformed_json_is_400(anon):
    reply = anon.post("/+login", data="{bad", headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert reply.json() == {"message": "Bad request: could not decode json"}


@pytest.mark.parametrize(
    "body", [{}, {"user": "root"}, {"password": ""}, ["root", ""], "root", 42, None]
)
def test_login_with_wrong_shape_is_400(anon, body):
    reply = anon.post("/+login", json=body)
    assert reply.status_code == 400
    assert reply.json()["message"].startswith("Bad request:")


def test_login_as_replica_is_403(anon):
    reply = anon.post("/+login", json={"user": "+replica", "password": "x"})
    assert reply.status_code == 403


def test_root_starts_with_an_empty_password(make_cellar):
    with make_cellar().session() as session:
        reply = session.post("/+login", json={"user": "root", "password": ""})
    assert reply.status_code == 200
    assert reply.json()["type"] == "proxyauth"


# --- sending credentials ---------------------------------------------------------------


def test_token_in_x_devpi_auth(alice, anon):
    header = b64(alice.user, alice.token)
    assert authstatus(anon, **{"X-Devpi-Auth": header}) == ["ok", alice.user, []]


def test_token_in_basic_auth(alice, anon):
    basic = f"Basic {b64(alice.user, alice.token)}"
    assert authstatus(anon, Authorization=basic) == ["ok", alice.user, []]


def test_password_in_basic_auth(alice, anon):
    basic = f"Basic {b64(alice.user, 'pw')}"
    assert authstatus(anon, Authorization=basic) == ["ok", alice.user, []]


def test_password_in_x_devpi_auth(alice, anon):
    assert authstatus(anon, **{"X-Devpi-Auth": b64(alice.user, "pw")}) == ["ok", alice.user, []]


def test_bad_x_devpi_auth_wins_over_good_basic(alice, anon):
    headers = {
        "X-Devpi-Auth": b64(alice.user, "wrong"),
        "Authorization": f"Basic {b64(alice.user, 'pw')}",
    }
    assert authstatus(anon, **headers) == NOAUTH


def test_good_x_devpi_auth_wins_over_bad_basic(alice, anon):
    headers = {
        "X-Devpi-Auth": b64(alice.user, alice.token),
        "Authorization": f"Basic {b64('nonexist', 'x')}",
    }
    assert authstatus(anon, **headers) == ["ok", alice.user, []]


BAD_CREDENTIALS = {
    "wrong token": lambda user, token: {"X-Devpi-Auth": b64(user, token[:-2] + "xx")},
    "wrong password": lambda user, token: {"Authorization": f"Basic {b64(user, 'wrong')}"},
    "not base64": lambda user, token: {"X-Devpi-Auth": "%%%not base64%%%"},
    "no colon": lambda user, token: {"X-Devpi-Auth": base64.b64encode(user.encode()).decode()},
    "unknown user": lambda user, token: {"X-Devpi-Auth": b64("nonexist", token)},
    "root's name": lambda user, token: {"X-Devpi-Auth": b64("root", token)},
    "bearer scheme": lambda user, token: {"Authorization": f"Bearer {token}"},
}


@pytest.mark.parametrize("kind", list(BAD_CREDENTIALS))
def test_bad_credentials_are_anonymous_not_401(alice, anon, kind):
    headers = BAD_CREDENTIALS[kind](alice.user, alice.token)
    assert authstatus(anon, **headers) == NOAUTH
    reply = anon.patch(f"/{alice.user}", json={"email": "evil@example.com"}, headers=headers)
    assert reply.status_code == 403
    assert "WWW-Authenticate" not in reply.headers


def test_token_of_another_user_does_not_work(server, alice, anon):
    anon.put(f"/{alice.user}x", json={"password": "pw"}).raise_for_status()
    headers = {"X-Devpi-Auth": b64(f"{alice.user}x", alice.token)}
    assert authstatus(anon, **headers) == NOAUTH


def test_token_of_deleted_user_stops_working(alice, anon):
    header = {"X-Devpi-Auth": b64(alice.user, alice.token)}
    alice.delete(f"/{alice.user}").raise_for_status()
    assert authstatus(anon, **header) == NOAUTH
    anon.put(f"/{alice.user}", json={"password": "pw"}).raise_for_status()
    assert authstatus(anon, **header) == NOAUTH


def test_token_survives_a_restart(make_cellar):
    first = make_cellar()
    with first.session() as session:
        token = session.login("root", "")
    first.stop()
    second = make_cellar(serverdir=first.serverdir)
    with second.session() as session:
        assert authstatus(session, **{"X-Devpi-Auth": b64("root", token)})[:2] == ["ok", "root"]


# --- expiry ----------------------------------------------------------------------------


class ShortLivedTokens:
    """Replaces the server's token signer with one whose tokens last one second."""

    @hookimpl
    def cellar_startup(self, registry):
        settings = registry.cellar_settings
        secret = load_server_secret(settings.secretfile, settings.serverdir)
        registry.registerUtility(TokenSigner(secret, max_age=1), ITokenSigner)


def test_expired_token_is_rejected(make_cellar):
    live = make_cellar(plugins=[ShortLivedTokens()])
    with live.session() as session:
        reply = session.post("/+login", json={"user": "root", "password": ""})
        assert reply.json()["result"]["expiration"] == 1
        token = reply.json()["result"]["password"]
        fresh = {"X-Devpi-Auth": b64("root", token)}
        assert authstatus(session, **fresh) == ["ok", "root", []]
        # Token timestamps have a resolution of one second: after two, it is too old.
        time.sleep(2.1)
        assert authstatus(session, **fresh) == NOAUTH
        basic = {"Authorization": f"Basic {b64('root', token)}"}
        assert authstatus(session, **basic) == NOAUTH
        refused = session.patch("/root", json={"email": "x@example.com"}, headers=fresh)
        assert refused.status_code == 403
        # The password itself still works, and a new login gives a working token.
        assert authstatus(session, Authorization=f"Basic {b64('root', '')}")[1] == "root"
        session.login("root", "")
        assert authstatus(session)[1] == "root"
