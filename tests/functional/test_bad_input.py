"""Bad requests get a 4xx with a JSON message and change nothing (serial and data stay)."""

from __future__ import annotations

import base64

import pytest

from cheesecellar.testing import start_live_cellar

LONG = "x" * 300


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """alice (``alicepw``) with ``alice/prod`` (not volatile) and ``alice/dev`` on it; bob."""
    live = start_live_cellar(tmp_path_factory.mktemp("badinput"))
    with live.session() as session:
        for name in ("alice", "bob"):
            session.put(f"/{name}", json={"password": f"{name}pw"}).raise_for_status()
        session.login("alice", "alicepw")
        session.put("/alice/prod", json={"volatile": False}).raise_for_status()
        session.put("/alice/dev", json={"bases": "alice/prod"}).raise_for_status()
    yield live
    live.stop()


def _basic(user: str, secret: str) -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


@pytest.fixture(scope="module")
def credentials(server) -> dict[str, dict[str, str]]:
    """Request headers for each kind of caller the table names."""
    tokens = {}
    with server.session() as session:
        for user, password in (("alice", "alicepw"), ("bob", "bobpw"), ("root", "")):
            tokens[user] = session.login(user, password)
    return {
        "anonymous": {},
        "alice": {"X-Devpi-Auth": _basic("alice", tokens["alice"])},
        "bob": {"X-Devpi-Auth": _basic("bob", tokens["bob"])},
        "root": {"X-Devpi-Auth": _basic("root", tokens["root"])},
        "bad token": {"X-Devpi-Auth": _basic("alice", tokens["bob"])},
        "bad password": {"Authorization": f"Basic {_basic('alice', 'wrong')}"},
    }


# (caller, method, path, raw body or None)
CASES = {
    # malformed JSON
    "user put malformed": ("anonymous", "PUT", "/carl", "{bad"),
    "user put empty": ("anonymous", "PUT", "/carl", ""),
    "user patch malformed": ("alice", "PATCH", "/alice", "{bad"),
    "index put malformed": ("alice", "PUT", "/alice/new", "{bad"),
    "index patch malformed": ("alice", "PATCH", "/alice/dev", "{bad"),
    "index patch not utf-8": ("alice", "PATCH", "/alice/dev", b"\xff\xfe"),
    "login malformed": ("anonymous", "POST", "/+login", "{bad"),
    # JSON of the wrong shape
    "user put number": ("anonymous", "PUT", "/carl", "42"),
    "user put null": ("anonymous", "PUT", "/carl", "null"),
    "user put string": ("anonymous", "PUT", "/carl", '"x"'),
    "user put list": ("anonymous", "PUT", "/carl", '["password=x"]'),
    "user put password number": ("anonymous", "PUT", "/carl", '{"password": 42}'),
    "user put password list": ("anonymous", "PUT", "/carl", '{"password": ["x"]}'),
    "user put email number": ("anonymous", "PUT", "/carl", '{"password": "x", "email": 5}'),
    "user put unknown key": ("anonymous", "PUT", "/carl", '{"password": "x", "foo": 1}'),
    "user patch list": ("alice", "PATCH", "/alice", '["email=x"]'),
    "user patch string": ("alice", "PATCH", "/alice", '"x"'),
    "user patch number": ("alice", "PATCH", "/alice", "42"),
    "user patch password number": ("alice", "PATCH", "/alice", '{"password": 42}'),
    "user patch email dict": ("alice", "PATCH", "/alice", '{"email": {"a": 1}}'),
    "index put number": ("alice", "PUT", "/alice/new", "42"),
    "index put string": ("alice", "PUT", "/alice/new", '"x"'),
    "index put list": ("alice", "PUT", "/alice/new", '["bases=alice/dev"]'),
    "index put bases number": ("alice", "PUT", "/alice/new", '{"bases": 42}'),
    "index put bases of numbers": ("alice", "PUT", "/alice/new", '{"bases": [1, 2]}'),
    "index put acl number": ("alice", "PUT", "/alice/new", '{"acl_upload": 42}'),
    "index put volatile number": ("alice", "PUT", "/alice/new", '{"volatile": 0}'),
    "index put volatile null": ("alice", "PUT", "/alice/new", '{"volatile": null}'),
    "index put type null": ("alice", "PUT", "/alice/new", '{"type": null}'),
    "index put type list": ("alice", "PUT", "/alice/new", '{"type": ["stage"]}'),
    "index patch string": ("alice", "PATCH", "/alice/dev", '"title=x"'),
    "index patch number": ("alice", "PATCH", "/alice/dev", "42"),
    "index patch null": ("alice", "PATCH", "/alice/dev", "null"),
    "index patch list of numbers": ("alice", "PATCH", "/alice/dev", "[42]"),
    "index patch list of null": ("alice", "PATCH", "/alice/dev", "[null]"),
    "index patch list of lists": ("alice", "PATCH", "/alice/dev", '[["title=x"]]'),
    "index patch mixed list": ("alice", "PATCH", "/alice/dev", '["title=x", 1]'),
    "index patch add to unset": ("alice", "PATCH", "/alice/dev", '["title+=x"]'),
    "index patch bases number": ("alice", "PATCH", "/alice/dev", '{"bases": 42}'),
    "index patch one bad op": ("alice", "PATCH", "/alice/dev", '["title=x", "foo=1"]'),
    "login list": ("anonymous", "POST", "/+login", '["alice", "alicepw"]'),
    "login number": ("anonymous", "POST", "/+login", "42"),
    "login password number": ("anonymous", "POST", "/+login", '{"user": "alice", "password": 1}'),
    "login user null": ("anonymous", "POST", "/+login", '{"user": null, "password": ""}'),
    # index types and keys
    "index unknown type": ("alice", "PUT", "/alice/new", '{"type": "foo"}'),
    "index unknown key": ("alice", "PUT", "/alice/new", '{"foo": "bar"}'),
    "index patch unknown key": ("alice", "PATCH", "/alice/dev", '["foo=bar"]'),
    "index patch type": ("alice", "PATCH", "/alice/dev", '["type=mirror"]'),
    "index patch self base": ("alice", "PATCH", "/alice/dev", '["bases=alice/dev"]'),
    "index patch cycle": ("alice", "PATCH", "/alice/prod", '["bases=alice/dev"]'),
    "index unknown base": ("alice", "PUT", "/alice/new", '{"bases": "root/nope"}'),
    "mirror bad url": ("alice", "PUT", "/alice/new", '{"type": "mirror", "mirror_url": "x"}'),
    "mirror toxresult acl": (
        "alice",
        "PUT",
        "/alice/new",
        '{"type": "mirror", "acl_toxresult_upload": ":ANONYMOUS:"}',
    ),
    # invalid names
    "user name with space": ("anonymous", "PUT", "/ca%20rl", '{"password": "x"}'),
    "user name with bang": ("anonymous", "PUT", "/ca!rl", '{"password": "x"}'),
    "user name with quote": ("anonymous", "PUT", "/ca%22rl", '{"password": "x"}'),
    "user name with colon": ("anonymous", "PUT", "/ca:rl", '{"password": "x"}'),
    "user name with tab": ("anonymous", "PUT", "/ca%09rl", '{"password": "x"}'),
    "user name with plus": ("anonymous", "PUT", "/+carl", '{"password": "x"}'),
    "user name too long": ("anonymous", "PUT", f"/{LONG}", '{"password": "x"}'),
    "index name with space": ("alice", "PUT", "/alice/a%20b", "{}"),
    "index name with hash": ("alice", "PUT", "/alice/a%23b", "{}"),
    "index name with plus": ("alice", "PUT", "/alice/+x", "{}"),
    "index name too long": ("alice", "PUT", f"/alice/{LONG}", "{}"),
    # duplicates
    "duplicate user": ("anonymous", "PUT", "/alice", '{"password": "x"}'),
    "duplicate index": ("alice", "PUT", "/alice/dev", "{}"),
    "duplicate root index": ("root", "PUT", "/root/pypi", '{"type": "mirror"}'),
    # deleting what does not exist or may not go
    "delete unknown user": ("root", "DELETE", "/nobody", None),
    "delete unknown index": ("alice", "DELETE", "/alice/nope", None),
    "patch unknown index": ("alice", "PATCH", "/alice/nope", "[]"),
    "patch unknown user": ("root", "PATCH", "/nobody", '{"email": "x"}'),
    "index of unknown user": ("root", "PUT", "/nobody/dev", "{}"),
    "delete non-volatile index": ("alice", "DELETE", "/alice/prod", None),
    "delete non-volatile root index": ("root", "DELETE", "/root/pypi", None),
    "delete owner of non-volatile": ("alice", "DELETE", "/alice", None),
    "delete root": ("root", "DELETE", "/root", None),
    "drop a default": ("alice", "PATCH", "/alice/dev", '["volatile-="]'),
    "remove absent value": ("alice", "PATCH", "/alice/dev", '["acl_upload-=carl"]'),
    # writes without the right credentials
    "anonymous patch user": ("anonymous", "PATCH", "/alice", '{"email": "x"}'),
    "anonymous password": ("anonymous", "PATCH", "/alice", '{"password": "x"}'),
    "anonymous delete user": ("anonymous", "DELETE", "/alice", None),
    "anonymous create index": ("anonymous", "PUT", "/alice/new", "{}"),
    "anonymous patch index": ("anonymous", "PATCH", "/alice/dev", '["title=x"]'),
    "anonymous delete index": ("anonymous", "DELETE", "/alice/dev", None),
    "other patch user": ("bob", "PATCH", "/alice", '{"email": "x"}'),
    "other password": ("bob", "PATCH", "/alice", '{"password": "x"}'),
    "other delete user": ("bob", "DELETE", "/alice", None),
    "other create index": ("bob", "PUT", "/alice/new", "{}"),
    "other patch index": ("bob", "PATCH", "/alice/dev", '["title=x"]'),
    "other delete index": ("bob", "DELETE", "/alice/dev", None),
    "other patch root mirror": ("bob", "PATCH", "/root/pypi", '["title=x"]'),
    "bad token patch user": ("bad token", "PATCH", "/alice", '{"email": "x"}'),
    "bad token delete index": ("bad token", "DELETE", "/alice/dev", None),
    "bad password create index": ("bad password", "PUT", "/alice/new", "{}"),
    "bad password delete user": ("bad password", "DELETE", "/alice", None),
    "wrong password login": ("anonymous", "POST", "/+login", '{"user": "alice", "password": "x"}'),
    "unknown user login": ("anonymous", "POST", "/+login", '{"user": "nobody", "password": ""}'),
    "replica login": ("anonymous", "POST", "/+login", '{"user": "+replica", "password": ""}'),
    # methods a resource does not have
    "delete server root": ("root", "DELETE", "/", None),
    "put server root": ("root", "PUT", "/", "{}"),
    "get login": ("anonymous", "GET", "/+login", None),
    "put api": ("root", "PUT", "/+api", "{}"),
}


def snapshot(server) -> tuple[str, dict]:
    with server.session() as session:
        reply = session.get("/")
    return reply.headers["X-Devpi-Serial"], reply.json()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_request_is_4xx_and_changes_nothing(server, credentials, case):
    caller, method, path, body = CASES[case]
    serial_before, listing_before = snapshot(server)
    with server.session() as session:
        reply = session.request(method, path, data=body, headers=credentials[caller])
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    message = reply.json()["message"]
    assert isinstance(message, str)
    assert message
    assert reply.headers["X-Devpi-Serial"] == serial_before
    assert snapshot(server) == (serial_before, listing_before)


def test_the_table_really_writes_to_this_server(server, credentials):
    """The same requests with good input do change things, so the table can fail."""
    serial_before, _ = snapshot(server)
    with server.session() as session:
        alice = credentials["alice"]
        assert session.patch("/alice/dev", json=["title=x"], headers=alice).status_code == 200
        assert session.patch("/alice/dev", json=["title-="], headers=alice).status_code == 200
    assert int(snapshot(server)[0]) == int(serial_before) + 2
