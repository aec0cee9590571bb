"""devpi's cross-cutting conventions: headers, JSON bodies, ``+api``, ``+status``, outside URL."""

from __future__ import annotations

import json
import re
import time

import pytest

from cheesecellar.testing import start_live_cellar

HEX32 = re.compile(r"^[0-9a-f]{32}$")
OUTSIDE = "https://example.com/prefix"


def serial(reply) -> int:
    return int(reply.headers["X-Devpi-Serial"])


def logged_in(cellar, name: str, password: str = "pw"):
    session = cellar.session()
    assert session.put(f"/{name}", json={"password": password}).status_code == 201
    session.login(name, password)
    return session


@pytest.fixture(scope="module")
def untouched(tmp_path_factory):
    """A server that only ever sees reads and refused writes, so its serial stays 0."""
    live = start_live_cellar(tmp_path_factory.mktemp("untouched"))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """A server with alice (password ``pw``, email set) and her index ``alice/dev``."""
    live = start_live_cellar(tmp_path_factory.mktemp("populated"))
    alice = logged_in(live, "alice")
    alice.put("/alice/dev", json={}).raise_for_status()
    alice.patch("/alice", json={"email": "a@example.com"}).raise_for_status()
    yield live
    live.stop()


# --- headers ---------------------------------------------------------------------------

REQUESTS = [
    ("GET", "/+api", None),
    ("GET", "/", None),
    ("GET", "/+status", None),
    ("GET", "/root/pypi", None),
    ("GET", "/nonexist", None),  # 404 from the model
    ("GET", "/+nope/a/b/c", None),  # 404 without a route
    ("DELETE", "/", None),  # method not allowed
    ("PUT", "/carl", {}),  # 400
    ("PATCH", "/root", {"email": "x"}),  # 403 for anonymous
    ("POST", "/+login", {"user": "root", "password": "wrong"}),  # 401
]


@pytest.mark.parametrize("accept", ["application/json", None])
@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_every_response_has_devpi_headers(untouched, method, path, body, accept):
    headers = {} if accept else {"Accept": None}
    with untouched.session() as api:
        reply = api.request(method, path, json=body, headers=headers)
    assert reply.headers["X-Devpi-Api-Version"] == "2"
    uuid = reply.headers["X-Devpi-Uuid"]
    assert HEX32.match(uuid)
    assert reply.headers["X-Devpi-Primary-Uuid"] == uuid
    assert reply.headers["X-Devpi-Master-Uuid"] == uuid
    assert reply.headers["X-Devpi-Server-Version"]
    assert reply.headers["X-Devpi-Serial"] == "0"


def test_uuid_is_stable_across_requests(untouched):
    api = untouched.session()
    uuids = {api.get(path).headers["X-Devpi-Uuid"] for path in ("/+api", "/", "/nonexist")}
    assert len(uuids) == 1


def test_serial_counts_committed_writes_only(cellar, api):
    assert serial(api.get("/")) == 0
    created = api.put("/alice", json={"password": "pw"})
    assert serial(created) == 1
    assert serial(api.get("/")) == 1
    alice = cellar.session()
    alice.login("alice", "pw")
    assert serial(alice.put("/alice/dev", json={})) == 2
    assert serial(alice.patch("/alice", json={"email": "a@example.com"})) == 3


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/alice", {}),
        ("/alice", {"foo": "bar"}),
        ("/alice", {"email": "a@example.com"}),
        ("/alice/dev", []),
        ("/alice/dev", {}),
        ("/alice/dev", ["volatile=True"]),
        ("/alice/dev", {"acl_upload": ["alice"]}),
    ],
)
def test_write_that_changes_nothing_keeps_the_serial(populated, path, body):
    alice = populated.session()
    alice.login("alice", "pw")
    before = serial(alice.get("/"))
    reply = alice.patch(path, json=body)
    assert reply.status_code == 200
    assert serial(reply) == before
    assert serial(alice.get("/")) == before


def test_failed_write_keeps_the_serial(api):
    api.put("/alice", json={"password": "pw"}).raise_for_status()
    reply = api.put("/alice", json={"password": "pw"})
    assert reply.status_code == 409
    assert serial(reply) == 1


# --- JSON bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/+api", "/", "/alice", "/alice/dev", "/alice/dev/+api", "/+status", "/nonexist"]
)
def test_json_bodies_are_indented_with_trailing_newline(populated, path):
    reply = populated.session().get(path)
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.text == json.dumps(reply.json(), indent=2) + "\n"


def test_error_body_is_a_message_only(untouched):
    reply = untouched.session().get("/nonexist")
    assert reply.status_code == 404
    assert reply.json() == {"message": "no user 'nonexist'"}


# --- +api ------------------------------------------------------------------------------


def test_root_api(api):
    reply = api.get("/+api")
    assert reply.status_code == 200
    body = reply.json()
    assert body["type"] == "apiconfig"
    result = body["result"]
    assert result["login"] == api.base + "/+login"
    assert result["authstatus"] == ["noauth", "", []]
    assert "server-keyvalue-parsing" in result["features"]
    assert result["features"] == sorted(result["features"])
    assert not {"index", "simpleindex", "pypisubmit"} & set(result)


def test_user_api_has_no_index_urls(cellar):
    alice = logged_in(cellar, "alice")
    result = alice.get("/alice/+api").json()["result"]
    assert result["authstatus"] == ["ok", "alice", []]
    assert not {"index", "simpleindex", "pypisubmit"} & set(result)


def test_stage_index_api(cellar):
    alice = logged_in(cellar, "alice")
    alice.put("/alice/dev", json={}).raise_for_status()
    result = alice.get("/alice/dev/+api").json()["result"]
    assert result["index"] == cellar.url + "/alice/dev"
    assert result["simpleindex"] == cellar.url + "/alice/dev/+simple/"
    assert result["pypisubmit"] == cellar.url + "/alice/dev/"
    assert result["login"] == cellar.url + "/+login"


def test_mirror_index_api_has_no_pypisubmit(api):
    result = api.get("/root/pypi/+api").json()["result"]
    assert result["index"] == api.base + "/root/pypi"
    assert result["simpleindex"] == api.base + "/root/pypi/+simple/"
    assert "pypisubmit" not in result
    assert "%2B" not in json.dumps(result)


def test_api_of_unknown_index_is_404(api):
    assert api.get("/root/nope/+api").status_code == 404


# --- trailing slashes ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/alice", "/alice/dev", "/root", "/root/pypi"])
def test_trailing_slash_variant_answers_the_same(populated, path):
    alice = populated.session()
    plain = alice.get(path)
    slashed = alice.get(path + "/")
    assert plain.status_code == slashed.status_code == 200
    assert plain.json() == slashed.json()


def test_trailing_slash_on_put(api):
    assert api.put("/frank/", json={"password": "pw"}).status_code == 201
    assert api.get("/frank").json()["result"]["username"] == "frank"


# --- +status ---------------------------------------------------------------------------


def test_status_reports_identity_and_serial(api):
    reply = api.get("/+status")
    result = reply.json()["result"]
    assert reply.json()["type"] == "status"
    assert result["uuid"] == reply.headers["X-Devpi-Uuid"]
    assert result["serial"] == 0
    assert result["role"] == "MASTER"


def test_status_event_serial_catches_up(api):
    for name in ("alice", "bob"):
        api.put(f"/{name}", json={"password": "pw"}).raise_for_status()
    deadline = time.monotonic() + 10
    result = api.get("/+status").json()["result"]
    while result["event-serial"] != result["serial"] and time.monotonic() < deadline:
        time.sleep(0.05)
        result = api.get("/+status").json()["result"]
    assert result["serial"] == 2
    assert result["event-serial"] == 2


# --- outside URL -----------------------------------------------------------------------


def test_outside_url_header_rewrites_api_urls(cellar):
    alice = logged_in(cellar, "alice")
    alice.put("/alice/dev", json={}).raise_for_status()
    alice.headers["X-Outside-Url"] = OUTSIDE
    result = alice.get("/alice/dev/+api").json()["result"]
    assert result["login"] == OUTSIDE + "/+login"
    assert result["index"] == OUTSIDE + "/alice/dev"
    assert result["simpleindex"] == OUTSIDE + "/alice/dev/+simple/"


def test_outside_url_header_strips_prefix_from_path(api):
    api.headers["X-Outside-Url"] = OUTSIDE
    assert api.get("/prefix/+api").json()["result"]["login"] == OUTSIDE + "/+login"
    result = api.get("/prefix/root/pypi/+api").json()["result"]
    assert result["index"] == OUTSIDE + "/root/pypi"
    assert api.get("/prefix/root").json()["result"]["username"] == "root"


def test_outside_url_setting(make_cellar):
    live = make_cellar(outside_url=OUTSIDE)
    with live.session() as session:
        assert session.get("/+api").json()["result"]["login"] == OUTSIDE + "/+login"
        prefixed = session.get("/prefix/root/pypi/+api")
        assert prefixed.json()["result"]["simpleindex"] == OUTSIDE + "/root/pypi/+simple/"
        status = session.get("/+status").json()["result"]
        assert status["outside-url"] == OUTSIDE
