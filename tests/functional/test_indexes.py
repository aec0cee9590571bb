"""Indexes over the JSON API: create (stage and mirror), show, PATCH in both forms, delete."""

from __future__ import annotations

import itertools

import pytest

STAGE_DEFAULTS = {
    "type": "stage",
    "bases": [],
    "volatile": True,
    "acl_toxresult_upload": [":ANONYMOUS:"],
    "mirror_whitelist": [],
    "mirror_whitelist_inheritance": "intersection",
}
_numbers = itertools.count(1)


def signup(server, name: str):
    """Create ``name`` (password ``pw``) and return a session logged in as it."""
    session = server.session()
    session.put(f"/{name}", json={"password": "pw"}).raise_for_status()
    session.login(name, "pw")
    return session


@pytest.fixture(scope="module")
def alice(server):
    with signup(server, "alice") as session:
        yield session


@pytest.fixture(scope="module")
def bob(server):
    with signup(server, "bob") as session:
        yield session


@pytest.fixture(scope="module")
def anon(server):
    with server.session() as session:
        yield session


@pytest.fixture(scope="module")
def root(server):
    with server.session() as session:
        session.login("root", "")
        yield session


def fresh(user: str, stem: str = "ix") -> str:
    """The path of an index that does not exist yet: ``/{user}/{stem}{n}``."""
    return f"/{user}/{stem}{next(_numbers)}"


@pytest.fixture
def dev(alice):
    """The path of a new volatile stage index of alice's."""
    path = fresh("alice", "dev")
    alice.put(path, json={}).raise_for_status()
    return path


def config_of(session, path: str) -> dict:
    reply = session.get(path + "?no_projects=")
    assert reply.status_code == 200
    return reply.json()["result"]


def serial(reply) -> int:
    return int(reply.headers["X-Devpi-Serial"])


def error(reply, status: int) -> str:
    assert reply.status_code == status, reply.text
    return reply.json()["message"]


# --- create a stage --------------------------------------------------------------------


def test_create_stage_with_defaults(alice):
    reply = alice.put(fresh("alice"), json={})
    assert reply.status_code == 200
    assert reply.json()["type"] == "indexconfig"
    assert reply.json()["result"] == {**STAGE_DEFAULTS, "acl_upload": ["alice"]}


def test_create_stage_from_client_strings(alice):
    prod, dev = fresh("alice", "prod"), fresh("alice", "dev")
    alice.put(prod, json={"volatile": "False"}).raise_for_status()
    result = alice.put(dev, json={"bases": prod, "volatile": "True"}).json()["result"]
    assert result["bases"] == [prod[1:]]
    assert result["volatile"] is True
    assert config_of(alice, prod)["volatile"] is False


@pytest.mark.parametrize(
    ("given", "key", "stored"),
    [
        ({"volatile": "yes"}, "volatile", True),
        ({"volatile": "NO"}, "volatile", False),
        ({"volatile": False}, "volatile", False),
        ({"bases": ""}, "bases", []),
        ({"bases": "root/pypi"}, "bases", ["root/pypi"]),
        ({"acl_upload": "a, b"}, "acl_upload", ["a", "b"]),
        ({"acl_upload": [":anonymous:"]}, "acl_upload", [":ANONYMOUS:"]),
        ({"acl_toxresult_upload": ":authenticated:"}, "acl_toxresult_upload", [":AUTHENTICATED:"]),
        ({"mirror_whitelist": "Hello_World,*"}, "mirror_whitelist", ["hello-world", "*"]),
        ({"mirror_whitelist_inheritance": "UNION"}, "mirror_whitelist_inheritance", "union"),
        ({"title": 42}, "title", 42),
        ({"custom_data": {"k": [1]}}, "custom_data", {"k": [1]}),
    ],
)
def test_create_stage_converts_values(alice, given, key, stored):
    path = fresh("alice")
    assert alice.put(path, json=given).json()["result"][key] == stored
    assert config_of(alice, path)[key] == stored


def test_create_stage_with_bases_of_other_users(alice, bob):
    prod = fresh("bob", "prod")
    bob.put(prod, json={}).raise_for_status()
    result = alice.put(fresh("alice"), json={"bases": f"{prod},root/pypi"}).json()["result"]
    assert result["bases"] == [prod[1:], "root/pypi"]


def test_duplicate_index_is_409(alice, dev):
    assert error(alice.put(dev, json={}), 409) == f"index '{dev[1:]}' exists"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "foo"}, "unknown index type 'foo'"),
        ({"foo": "bar"}, "indexconfig got unexpected keyword arguments: foo=bar"),
        ({"volatile": "maybe"}, "Unknown boolean value 'maybe'."),
        ({"volatile": 0}, "Unknown boolean value 0."),
        ({"bases": "root/nope"}, "base index 'root/nope' does not exist"),
    ],
)
def test_create_stage_rejects_bad_config(alice, body, message):
    path = fresh("alice")
    assert error(alice.put(path, json=body), 400) == message
    error(alice.get(path), 404)


def test_stage_cannot_be_its_own_base(alice):
    path = fresh("alice")
    error(alice.put(path, json={"bases": path}), 400)


def test_others_cannot_create_an_index(alice, bob, anon):
    path = fresh("alice")
    error(bob.put(path, json={}), 403)
    error(anon.put(path, json={}), 403)
    error(alice.get(path), 404)


def test_root_creates_in_any_namespace(alice, root):
    path = fresh("alice")
    result = root.put(path, json={}).json()["result"]
    assert result["acl_upload"] == ["alice"]
    assert path.rpartition("/")[2] in alice.get("/alice").json()["result"]["indexes"]


def test_index_of_unknown_user(root):
    assert error(root.put("/nonexist/dev", json={}), 404) == "no user 'nonexist'"
    error(root.get("/nonexist/dev"), 404)


# --- create a mirror -------------------------------------------------------------------


def test_create_mirror_stores_only_set_keys(alice):
    path = fresh("alice", "mirror")
    body = {
        "type": "mirror",
        "mirror_url": "https://mirror.example/simple/",
        "mirror_cache_expiry": "30",
        "bases": "root/pypi",
        "acl_upload": "bob",
        "mirror_whitelist": "*",
    }
    reply = alice.put(path, json=body)
    assert reply.status_code == 200
    expected = {
        "type": "mirror",
        "volatile": True,
        "mirror_url": "https://mirror.example/simple/",
        "mirror_cache_expiry": 30,
    }
    assert reply.json()["result"] == expected
    assert config_of(alice, path) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"acl_toxresult_upload": "x"}, "indexconfig got unexpected keyword arguments: "),
        ({"mirror_url": "notaurl"}, "'mirror_url' option must be a URL."),
        ({"mirror_url": "ftp://x/"}, "'mirror_url' option must be a URL."),
        ({"mirror_cache_expiry": "abc"}, "'mirror_cache_expiry' option must be an integer"),
    ],
)
def test_create_mirror_rejects_bad_config(alice, body, message):
    path = fresh("alice", "mirror")
    assert error(alice.put(path, json={"type": "mirror", **body}), 400).startswith(message)
    error(alice.get(path), 404)


# --- read ------------------------------------------------------------------------------


def test_get_index_with_and_without_projects(anon, dev):
    full = anon.get(dev).json()
    assert full["type"] == "indexconfig"
    assert full["result"]["projects"] == []
    assert "projects" not in anon.get(dev + "?no_projects=").json()["result"]
    assert "projects" not in anon.get(dev + "?no_projects").json()["result"]


def test_get_unknown_index_is_404(anon):
    error(anon.get("/alice/nonexist"), 404)


# --- PATCH with a dict -----------------------------------------------------------------


def test_patch_dict_merges(alice, dev):
    reply = alice.patch(dev, json={"title": "T", "volatile": "no"})
    assert reply.status_code == 200
    assert reply.json()["type"] == "indexconfig"
    expected = {**STAGE_DEFAULTS, "acl_upload": ["alice"], "title": "T", "volatile": False}
    assert reply.json()["result"] == expected
    assert config_of(alice, dev) == expected


def test_patch_accepts_a_get_reply_sent_back(alice, dev):
    sent = alice.get(dev).json()
    sent["result"]["title"] = "from GET"
    reply = alice.patch(dev, json=sent)
    assert reply.status_code == 200
    assert "projects" not in reply.json()["result"]
    assert config_of(alice, dev)["title"] == "from GET"


# --- PATCH with operations -------------------------------------------------------------


@pytest.mark.parametrize(
    ("ops", "key", "value"),
    [
        (["bases=root/pypi"], "bases", ["root/pypi"]),
        (["bases=/root/pypi"], "bases", ["root/pypi"]),
        (["bases="], "bases", []),
        (["acl_upload+=bob"], "acl_upload", ["alice", "bob"]),
        (["acl_upload+=alice"], "acl_upload", ["alice"]),
        (["acl_upload-=alice"], "acl_upload", []),
        (["acl_upload=:anonymous:"], "acl_upload", [":ANONYMOUS:"]),
        (["acl_upload=a,b"], "acl_upload", ["a", "b"]),
        (["mirror_whitelist+=Hello_World"], "mirror_whitelist", ["hello-world"]),
        (["mirror_whitelist_inheritance=union"], "mirror_whitelist_inheritance", "union"),
        (["volatile=False"], "volatile", False),
        (["title=T"], "title", "T"),
        (["title"], "title", ""),
        (["title=T", "description=D", "title=U"], "title", "U"),
    ],
)
def test_patch_operations(alice, dev, ops, key, value):
    reply = alice.patch(dev, json=ops)
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"][key] == value
    assert config_of(alice, dev)[key] == value


def test_patch_drop_key(alice, dev):
    alice.patch(dev, json=["title=T"]).raise_for_status()
    assert "title" not in alice.patch(dev, json=["title-="]).json()["result"]
    assert "title" not in config_of(alice, dev)


def test_patch_add_present_value_changes_nothing(alice, dev):
    before = alice.get(dev)
    reply = alice.patch(dev, json=["acl_upload+=alice"])
    assert reply.status_code == 200
    assert serial(reply) == serial(before)


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (["acl_upload-=carl"], "The 'acl_upload' setting doesn't have value 'carl'"),
        (["volatile-="], "Default values can't be removed."),
        (["bases-="], "Default values can't be removed."),
        (["title+=x"], None),
        (["title-=x"], None),
        (["volatile+=x"], None),
        (["foo=bar"], "indexconfig got unexpected keyword arguments: foo=bar"),
        (["volatile=maybe"], "Unknown boolean value 'maybe'."),
        (["mirror_whitelist_inheritance=bogus"], None),
        (["bases=root/nope"], "base index 'root/nope' does not exist"),
        (["type=mirror"], "the 'type' of an index can't be changed"),
        (["=x"], None),
        (["title=T", "foo=1"], "indexconfig got unexpected keyword arguments: foo=1"),
    ],
)
def test_patch_operation_errors_change_nothing(alice, dev, ops, message):
    before = alice.get(dev)
    text = error(alice.patch(dev, json=ops), 400)
    if message is not None:
        assert text == message
    after = alice.get(dev)
    assert after.json() == before.json()
    assert serial(after) == serial(before)


def test_patch_list_operation_on_a_string_value(alice, dev):
    alice.patch(dev, json=["title=T"]).raise_for_status()
    error(alice.patch(dev, json=["title+=x"]), 400)
    assert config_of(alice, dev)["title"] == "T"


def test_error_on_noop(alice, dev):
    assert alice.patch(dev + "?error_on_noop", json=["title=P"]).status_code == 200
    reply = alice.patch(dev + "?error_on_noop", json=["title=P"])
    assert error(reply, 400) == "The requested modifications resulted in no changes"
    assert alice.patch(dev, json=["title=P"]).status_code == 200


@pytest.mark.parametrize("body", [["type=mirror"], {"type": "mirror"}])
def test_type_cannot_change(alice, dev, body):
    assert error(alice.patch(dev, json=body), 400) == "the 'type' of an index can't be changed"
    assert alice.patch(dev, json={"type": "stage"}).status_code == 200


def test_cyclic_bases_are_refused(alice):
    a, b, c = fresh("alice", "a"), fresh("alice", "b"), fresh("alice", "c")
    alice.put(a, json={}).raise_for_status()
    alice.put(b, json={"bases": a}).raise_for_status()
    alice.put(c, json={"bases": b}).raise_for_status()
    error(alice.patch(a, json=[f"bases={c}"]), 400)
    error(alice.patch(a, json={"bases": [b]}), 400)
    error(alice.patch(a, json=[f"bases={a}"]), 400)
    assert config_of(alice, a)["bases"] == []


def test_patch_mirror(alice):
    path = fresh("alice", "mirror")
    body = {"type": "mirror", "mirror_url": "https://mirror.example/simple/"}
    alice.put(path, json=body).raise_for_status()
    result = alice.patch(path, json=["mirror_cache_expiry=5", "acl_upload=bob"]).json()["result"]
    assert result["mirror_cache_expiry"] == 5
    assert "acl_upload" not in result
    result = alice.patch(path, json=["mirror_cache_expiry-="]).json()["result"]
    assert "mirror_cache_expiry" not in result
    error(alice.patch(path, json=["mirror_url=notaurl"]), 400)
    error(alice.patch(path, json=["mirror_cache_expiry=abc"]), 400)
    error(alice.patch(path, json=["type=stage"]), 400)
    assert config_of(alice, path) == {"type": "mirror", "volatile": True, **body}


def test_others_cannot_patch(alice, bob, anon, dev):
    error(bob.patch(dev, json=["title=evil"]), 403)
    error(anon.patch(dev, json=["title=evil"]), 403)
    assert "title" not in config_of(alice, dev)


def test_root_may_patch(alice, root, dev):
    assert root.patch(dev, json=["title=by root"]).status_code == 200
    assert config_of(alice, dev)["title"] == "by root"


def test_patch_unknown_index_is_404(alice):
    error(alice.patch(fresh("alice"), json=["title=x"]), 404)


# --- delete ----------------------------------------------------------------------------


def test_delete_index(alice, dev):
    reply = alice.delete(dev)
    assert reply.status_code == 201
    assert reply.json() == {"message": f"index {dev[1:]} deleted"}
    error(alice.get(dev), 404)
    assert dev.rpartition("/")[2] not in alice.get("/alice").json()["result"]["indexes"]


def test_non_volatile_index_cannot_be_deleted(alice, root):
    prod = fresh("alice", "prod")
    alice.put(prod, json={"volatile": False}).raise_for_status()
    for session in (alice, root):
        assert error(session.delete(prod), 403) == f"index {prod[1:]} non-volatile, cannot delete"
    alice.patch(prod, json=["volatile=True"]).raise_for_status()
    assert alice.delete(prod).status_code == 201


def test_others_cannot_delete(alice, bob, anon, dev):
    error(bob.delete(dev), 403)
    error(anon.delete(dev), 403)
    assert alice.get(dev).status_code == 200


def test_root_may_delete(root, dev):
    assert root.delete(dev).status_code == 201


def test_delete_unknown_index_is_404(alice):
    error(alice.delete(fresh("alice")), 404)


def test_deleting_a_base_keeps_dependants(alice):
    base, child = fresh("alice", "base"), fresh("alice", "child")
    alice.put(base, json={}).raise_for_status()
    alice.put(child, json={"bases": base}).raise_for_status()
    assert alice.delete(base).status_code == 201
    assert config_of(alice, child)["bases"] == [base[1:]]
