"""Users over the JSON API: create, list, show, modify, delete, and who may do which."""

from __future__ import annotations

import base64
import itertools
import re

import pytest

CREATED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_numbers = itertools.count(1)


def signup(server, stem: str = "user", password: str = "pw", **config):
    """Create a user with a fresh name and return a session logged in as it (``.user``)."""
    name = f"{stem}{next(_numbers)}"
    session = server.session()
    reply = session.put(f"/{name}", json={"password": password, **config})
    assert reply.status_code == 201, reply.text
    session.login(name, password)
    session.user = name
    return session


def authstatus(server, user: str, secret: str) -> list:
    basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
    with server.session() as session:
        reply = session.get("/+api", headers={"Authorization": f"Basic {basic}"})
    return reply.json()["result"]["authstatus"]


def serial(reply) -> int:
    return int(reply.headers["X-Devpi-Serial"])


# --- create ----------------------------------------------------------------------------


def test_create_user(anon):
    reply = anon.put("/carla", json={"password": "pw", "email": "carla@example.com"})
    assert reply.status_code == 201
    body = reply.json()
    assert body["type"] == "userconfig"
    result = body["result"]
    assert result["username"] == "carla"
    assert result["email"] == "carla@example.com"
    assert result["indexes"] == {}
    assert CREATED.match(result["created"])
    assert not {"password", "pwhash"} & set(result)


def test_create_user_with_all_writable_keys(anon):
    config = {"title": "T", "description": "D", "custom_data": {"k": [1]}}
    reply = anon.put("/dora", json={"password": "pw", **config})
    assert reply.status_code == 201
    assert config.items() <= anon.get("/dora").json()["result"].items()


def test_create_user_with_empty_password_can_log_in(anon):
    assert anon.put("/emptypw", json={"password": ""}).status_code == 201
    assert anon.post("/+login", json={"user": "emptypw", "password": ""}).status_code == 200


def test_duplicate_user_is_409(server, anon):
    alice = signup(server, "alice")
    reply = anon.put(f"/{alice.user}", json={"password": "other"})
    assert reply.status_code == 409
    assert reply.json() == {"message": "user already exists"}


@pytest.mark.parametrize(
    "body", [{}, {"email": "x@example.com"}, {"pwhash": "$argon2id$v=19$m=65536,t=3,p=4$x$y"}]
)
def test_create_user_needs_a_password(anon, body):
    reply = anon.put("/nopassword", json=body)
    assert reply.status_code == 400
    assert reply.json()["message"] == "password needs to be set"
    assert anon.get("/nopassword").status_code == 404


def test_create_user_rejects_unknown_keys(anon):
    reply = anon.put("/unknownkeys", json={"password": "pw", "foo": "bar"})
    assert reply.status_code == 400
    assert reply.json()["message"] == "Unknown keys in user config: foo"
    assert anon.get("/unknownkeys").status_code == 404


@pytest.mark.parametrize("name", ["ca rl", "ca!rl", "ca$rl", "ca:rl", "ca~rl", "ca%rl"])
def test_invalid_user_name_is_400(anon, name):
    reply = anon.put(f"/{name}", json={"password": "pw"})
    assert reply.status_code == 400
    assert reply.json()["message"] == (
        f"username {name!r} contains characters that aren't allowed. "
        "Any ascii symbol besides -.@_ is blocked."
    )


@pytest.mark.parametrize("name", ["carl.x_y-1", "mail@example.com", "émilie"])
def test_allowed_user_names(anon, name):
    assert anon.put(f"/{name}", json={"password": "pw"}).status_code == 201
    assert anon.get(f"/{name}").json()["result"]["username"] == name


def test_user_names_are_case_sensitive(server, anon):
    gina = signup(server, "gina")
    upper = gina.user.upper()
    assert anon.put(f"/{upper}", json={"password": "pw"}).status_code == 201
    assert anon.get(f"/{upper}").json()["result"]["username"] == upper


# --- read ------------------------------------------------------------------------------


def test_list_users(server, anon):
    alice = signup(server, "alice", email="a@example.com")
    alice.put(f"/{alice.user}/dev", json={}).raise_for_status()
    reply = anon.get("/")
    assert reply.status_code == 200
    body = reply.json()
    assert body["type"] == "list:userconfig"
    listed = body["result"][alice.user]
    assert listed["username"] == alice.user
    assert listed["email"] == "a@example.com"
    assert listed["indexes"]["dev"]["type"] == "stage"
    assert "pypi" in body["result"]["root"]["indexes"]
    assert all("pwhash" not in user for user in body["result"].values())


def test_get_user(server, anon):
    alice = signup(server, "alice")
    body = anon.get(f"/{alice.user}").json()
    assert body["type"] == "userconfig"
    assert body["result"]["username"] == alice.user
    assert "pwhash" not in body["result"]


def test_unknown_user_is_404(anon):
    reply = anon.get("/nonexist")
    assert reply.status_code == 404
    assert reply.json() == {"message": "no user 'nonexist'"}


# --- modify ----------------------------------------------------------------------------


def test_patch_by_self(server):
    alice = signup(server, "alice")
    reply = alice.patch(f"/{alice.user}", json={"email": "new@example.com", "title": "T"})
    assert reply.status_code == 200
    assert reply.json() == {"message": "user updated"}
    result = alice.get(f"/{alice.user}").json()["result"]
    assert result["email"] == "new@example.com"
    assert result["title"] == "T"
    assert CREATED.match(result["modified"])


def test_patch_by_root(server, root):
    alice = signup(server, "alice")
    reply = root.patch(f"/{alice.user}", json={"description": "by root"})
    assert reply.json() == {"message": "user updated"}
    assert alice.get(f"/{alice.user}").json()["result"]["description"] == "by root"


def test_patch_with_falsy_value_removes_the_key(server):
    alice = signup(server, "alice", email="a@example.com")
    alice.patch(f"/{alice.user}", json={"email": ""}).raise_for_status()
    assert "email" not in alice.get(f"/{alice.user}").json()["result"]


def test_patch_ignores_unknown_and_derived_keys(server):
    alice = signup(server, "alice")
    before = alice.get(f"/{alice.user}")
    body = {"foo": "bar", "created": "1999-01-01T00:00:00Z", "username": "x", "indexes": {}}
    reply = alice.patch(f"/{alice.user}", json=body)
    assert reply.status_code == 200
    assert reply.json() == {"message": "user updated"}
    after = alice.get(f"/{alice.user}")
    assert after.json() == before.json()
    assert serial(after) == serial(before)


def test_patch_password_returns_new_token(server):
    alice = signup(server, "alice", password="old")
    reply = alice.patch(f"/{alice.user}", json={"password": "new"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["type"] == "userpassword"
    assert body["message"] == "user updated, new proxy auth"
    assert body["result"]["expiration"] == 36000
    token = body["result"]["password"]
    assert authstatus(server, alice.user, token) == ["ok", alice.user, []]
    assert authstatus(server, alice.user, "new") == ["ok", alice.user, []]
    assert authstatus(server, alice.user, "old") == ["noauth", "", []]
    # Tokens are tied to the password: the session's token from before the change is void.
    assert alice.get("/+api").json()["result"]["authstatus"] == ["noauth", "", []]
    with server.session() as anon:
        old_login = anon.post("/+login", json={"user": alice.user, "password": "old"})
        new_login = anon.post("/+login", json={"user": alice.user, "password": "new"})
    assert old_login.status_code == 401
    assert new_login.status_code == 200


def test_root_changing_a_password_gets_a_token_for_that_user(server, root):
    alice = signup(server, "alice")
    reply = root.patch(f"/{alice.user}", json={"password": "set-by-root"})
    token = reply.json()["result"]["password"]
    assert authstatus(server, alice.user, token) == ["ok", alice.user, []]


def test_patch_by_another_user_is_403(server):
    alice = signup(server, "alice")
    bob = signup(server, "bob")
    for body in ({"email": "evil@example.com"}, {"password": "evil"}):
        assert bob.patch(f"/{alice.user}", json=body).status_code == 403
    assert "email" not in alice.get(f"/{alice.user}").json()["result"]
    assert authstatus(server, alice.user, "pw")[0] == "ok"


def test_patch_by_anonymous_is_403(server, anon):
    alice = signup(server, "alice")
    for body in ({"email": "evil@example.com"}, {"password": "evil"}):
        assert anon.patch(f"/{alice.user}", json=body).status_code == 403
    assert authstatus(server, alice.user, "pw")[0] == "ok"


def test_patch_unknown_user_is_404(root):
    assert root.patch("/nonexist", json={"email": "x@example.com"}).status_code == 404


# --- delete ----------------------------------------------------------------------------


def test_delete_self(server, anon):
    alice = signup(server, "alice")
    reply = alice.delete(f"/{alice.user}")
    assert reply.status_code == 200
    assert reply.json() == {"message": f"user '{alice.user}' deleted"}
    assert anon.get(f"/{alice.user}").status_code == 404
    assert alice.user not in anon.get("/").json()["result"]


def test_root_deletes_a_user(server, root):
    alice = signup(server, "alice")
    reply = root.delete(f"/{alice.user}")
    assert reply.json() == {"message": f"user '{alice.user}' deleted"}
    assert root.get(f"/{alice.user}").status_code == 404


def test_root_cannot_be_deleted(root):
    assert root.delete("/root").status_code == 403
    assert root.get("/root").status_code == 200


def test_others_cannot_delete_a_user(server, anon):
    alice = signup(server, "alice")
    bob = signup(server, "bob")
    assert bob.delete(f"/{alice.user}").status_code == 403
    assert anon.delete(f"/{alice.user}").status_code == 403
    assert anon.get(f"/{alice.user}").status_code == 200


def test_owner_of_non_volatile_index_cannot_be_deleted(server, root):
    alice = signup(server, "alice")
    alice.put(f"/{alice.user}/prod", json={"volatile": False}).raise_for_status()
    for session in (alice, root):
        reply = session.delete(f"/{alice.user}")
        assert reply.status_code == 403
        assert reply.json()["message"] == f"user '{alice.user}' has non-volatile index: prod"
    assert root.get(f"/{alice.user}/prod").status_code == 200


def test_delete_removes_the_users_indexes(server, anon):
    alice = signup(server, "alice")
    alice.put(f"/{alice.user}/dev", json={}).raise_for_status()
    alice.delete(f"/{alice.user}").raise_for_status()
    assert anon.get(f"/{alice.user}/dev").status_code == 404
    anon.put(f"/{alice.user}", json={"password": "pw"}).raise_for_status()
    assert anon.get(f"/{alice.user}").json()["result"]["indexes"] == {}


def test_delete_unknown_user_is_404(root):
    reply = root.delete("/nonexist")
    assert reply.status_code == 404
    assert reply.json() == {"message": "no user 'nonexist'"}
