"""``restrict_modify``: only the listed users and groups create and change users and indexes."""

from __future__ import annotations

import itertools

import pytest

from cheesecellar import hookimpl
from cheesecellar.testing import start_live_cellar

_numbers = itertools.count(1)


class Keepers:
    """An auth plugin that knows one user, ``keeper``, a member of the group ``admins``."""

    @hookimpl
    def cellar_auth_user(self, username, password, userconfig):
        if username != "keeper":
            return None
        if password == "keeperpw":
            return {"status": "ok", "groups": ["admins"]}
        return {"status": "reject"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Restricted to ``admin`` and ``:admins``; keeper (of :admins) made admin, the rest."""
    live = start_live_cellar(
        tmp_path_factory.mktemp("restricted"), plugins=[Keepers()], restrict_modify="admin,:admins"
    )
    with live.session() as keeper:
        keeper.login("keeper", "keeperpw")
        keeper.put("/admin", json={"password": "adminpw"}).raise_for_status()
    yield live
    live.stop()


def session_of(server, user: str | None, password: str = "pw"):
    session = server.session()
    if user is not None:
        session.login(user, password)
    return session


@pytest.fixture
def admin(server):
    with session_of(server, "admin", "adminpw") as session:
        yield session


@pytest.fixture
def keeper(server):
    with session_of(server, "keeper", "keeperpw") as session:
        yield session


@pytest.fixture
def root(server):
    with session_of(server, "root", "") as session:
        yield session


@pytest.fixture
def anon(server):
    with session_of(server, None) as session:
        yield session


@pytest.fixture
def alice(server, admin):
    """A fresh ordinary user (password ``pw``) with the index ``dev``, made by admin."""
    name = f"alice{next(_numbers)}"
    admin.put(f"/{name}", json={"password": "pw"}).raise_for_status()
    admin.put(f"/{name}/dev", json={}).raise_for_status()
    with session_of(server, name) as session:
        session.user = name
        yield session


# --- users -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anon", "alice", "root"])
def test_others_cannot_create_users(request, who):
    session = request.getfixturevalue(who)
    assert session.put("/newcomer", json={"password": "pw"}).status_code == 403
    assert session.get("/newcomer").status_code == 404


@pytest.mark.parametrize("who", ["admin", "keeper"])
def test_listed_principals_create_users(request, who):
    session = request.getfixturevalue(who)
    name = f"made-by-{who}"
    assert session.put(f"/{name}", json={"password": "pw"}).status_code == 201


def test_user_cannot_modify_itself(alice):
    assert alice.patch(f"/{alice.user}", json={"email": "a@example.com"}).status_code == 403
    both = {"password": "new", "email": "a@example.com"}
    assert alice.patch(f"/{alice.user}", json=both).status_code == 403
    assert "email" not in alice.get(f"/{alice.user}").json()["result"]


def test_user_may_change_only_its_own_password(server, alice, anon):
    reply = alice.patch(f"/{alice.user}", json={"password": "new"})
    assert reply.status_code == 200
    assert reply.json()["type"] == "userpassword"
    login = anon.post("/+login", json={"user": alice.user, "password": "new"})
    assert login.status_code == 200
    with session_of(server, "admin", "adminpw") as other:
        other.put("/victim", json={"password": "pw"})
    assert alice.patch("/victim", json={"password": "x"}).status_code == 403


@pytest.mark.parametrize("who", ["admin", "keeper"])
def test_listed_principals_modify_users(request, alice, who):
    session = request.getfixturevalue(who)
    assert session.patch(f"/{alice.user}", json={"title": who}).status_code == 200
    assert alice.get(f"/{alice.user}").json()["result"]["title"] == who


def test_root_cannot_modify_users_unless_listed(root, alice):
    assert root.patch(f"/{alice.user}", json={"title": "root"}).status_code == 403
    assert root.delete(f"/{alice.user}").status_code == 403


def test_user_cannot_delete_itself(alice):
    assert alice.delete(f"/{alice.user}").status_code == 403
    assert alice.get(f"/{alice.user}").status_code == 200


def test_listed_user_deletes_others_but_not_itself(admin, alice):
    assert admin.delete(f"/{alice.user}").status_code == 200
    assert admin.delete("/admin").status_code == 403
    assert admin.get("/admin").status_code == 200


# --- indexes ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anon", "alice", "root"])
def test_others_cannot_create_indexes(request, alice, who):
    session = request.getfixturevalue(who)
    assert session.put(f"/{alice.user}/new", json={}).status_code == 403
    assert session.get(f"/{alice.user}/new").status_code == 404


def test_root_cannot_create_in_its_own_namespace(root):
    assert root.put("/root/new", json={}).status_code == 403


@pytest.mark.parametrize("who", ["admin", "keeper"])
def test_listed_principals_create_indexes(request, alice, who):
    session = request.getfixturevalue(who)
    reply = session.put(f"/{alice.user}/{who}", json={})
    assert reply.status_code == 200
    assert reply.json()["result"]["acl_upload"] == [alice.user]


def test_owner_cannot_modify_or_delete_own_index(alice):
    dev = f"/{alice.user}/dev"
    assert alice.patch(dev, json=["title=mine"]).status_code == 403
    assert alice.delete(dev).status_code == 403
    assert "title" not in alice.get(dev).json()["result"]


def test_root_cannot_modify_indexes_unless_listed(root, alice):
    assert root.patch(f"/{alice.user}/dev", json=["title=root"]).status_code == 403
    assert root.patch("/root/pypi", json=["title=root"]).status_code == 403
    assert root.delete(f"/{alice.user}/dev").status_code == 403


@pytest.mark.parametrize("who", ["admin", "keeper"])
def test_listed_principals_modify_and_delete_indexes(request, alice, who):
    session = request.getfixturevalue(who)
    dev = f"/{alice.user}/dev"
    assert session.patch(dev, json=["title=ok"]).status_code == 200
    assert session.delete(dev).status_code == 201
    assert session.get(dev).status_code == 404


def test_root_may_when_listed(make_cellar):
    live = make_cellar(restrict_modify="root")
    with live.session() as session:
        assert session.put("/bob", json={"password": "pw"}).status_code == 403
        session.login("root", "")
        assert session.put("/bob", json={"password": "pw"}).status_code == 201
        assert session.put("/bob/dev", json={}).status_code == 200
        assert session.patch("/bob/dev", json=["title=t"]).status_code == 200
        assert session.delete("/bob").status_code == 200
