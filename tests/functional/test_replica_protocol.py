"""Replication between live servers in this process: authentication, identity, the
changelog and files reaching the replica, status."""

from __future__ import annotations

import logging

import pytest
import requests
from distfiles import doczip
from distfiles import upload
from distfiles import wheel
from replicakit import PLUGINS
from replicakit import make_secret
from replicakit import start_primary
from replicakit import start_replica
from replicakit import store_digest
from replicakit import wait_for
from replicakit import wait_for_serial

from cheesecellar_replica.protocol import TOKEN_HEADER
from cheesecellar_replica.protocol import UUID_HEADER
from cheesecellar_replica.tokens import ReplicaTokens


@pytest.fixture
def secretfile(tmp_path):
    return make_secret(tmp_path / "secret")


@pytest.fixture
def primary(make_cellar, secretfile):
    return start_primary(make_cellar, secretfile)


def make_index(live, user="alice", index="dev") -> requests.Session:
    session = live.session()
    session.put(f"/{user}", json={"password": "pw"}).raise_for_status()
    session.login(user, "pw")
    session.put(f"/{user}/{index}", json={"bases": []}).raise_for_status()
    return session


def upload_wheel(live, version="1.0", user="alice", index="dev"):
    dist = wheel("hello", version)
    reply = upload(f"{live.url}/{user}/{index}/", dist, auth=(user, "pw"))
    assert reply.status_code == 200, reply.text
    return dist


def test_a_standalone_server_refuses_replication(make_cellar):
    live = make_cellar(plugins=PLUGINS, extra={"no_root_pypi": True})
    reply = requests.get(f"{live.url}/+replica/changes", headers={"Accept": "application/json"})
    assert reply.status_code == 403
    assert reply.json()["message"] == (
        "replication is disabled: start the primary with --role primary"
    )


@pytest.mark.parametrize("token", [None, "garbage", "other-secret"])
def test_the_primary_refuses_a_bad_token_and_logs_it(primary, token, caplog):
    if token == "other-secret":
        token = ReplicaTokens(b"x" * 40).make("r1")
    headers = {UUID_HEADER: "r1", "Accept": "application/json"}
    if token is not None:
        headers[TOKEN_HEADER] = token
    with caplog.at_level(logging.WARNING, "cheesecellar_replica"):
        reply = requests.get(f"{primary.url}/+replica/changes?since=0", headers=headers)
    assert reply.status_code == 403
    assert reply.json()["message"].startswith("replica not authorised: ")
    assert any("same --secretfile" in record.getMessage() for record in caplog.records)


def test_a_token_for_another_uuid_is_refused(primary, secretfile):
    from cheesecellar.auth.secret import read_secret

    token = ReplicaTokens(read_secret(secretfile)).make("r1")
    headers = {UUID_HEADER: "r2", TOKEN_HEADER: token, "Accept": "application/json"}
    reply = requests.get(f"{primary.url}/+replica/changes", headers=headers)
    assert reply.status_code == 403
    assert "another replica uuid" in reply.json()["message"]


def test_a_replica_with_another_secret_is_refused_and_says_why(
    make_cellar, primary, tmp_path, caplog
):
    other = make_secret(tmp_path / "other")
    with caplog.at_level(logging.WARNING):
        replica = start_replica(make_cellar, primary.url, other)
        wait_for(lambda: replica_status(replica).get("replication-state") == "refused")
    assert replica.storage.last_serial() == -1
    logged = [record.getMessage() for record in caplog.records]
    assert any(
        "primary refused our token: check that both use the same --secretfile" in m for m in logged
    )
    assert any("refused a replication request" in m for m in logged)


def replica_status(live) -> dict:
    return requests.get(f"{live.url}/+status", headers={"Accept": "application/json"}).json()[
        "result"
    ]


def test_an_upload_reaches_the_replica_with_its_files(make_cellar, primary, secretfile):
    session = make_index(primary)
    dist = upload_wheel(primary)
    session.post(
        "/alice/dev/",
        data={":action": "doc_upload", "name": "hello", "version": "1.0"},
        files={"content": ("hello-1.0.doc.zip", doczip(), "application/zip")},
        headers={"Accept": "application/json"},
    )
    replica = start_replica(make_cellar, primary.url, secretfile)
    wait_for_serial(replica, primary.storage.last_serial())
    relpath = primary.session().get("/alice/dev/hello/1.0").json()["result"]["+links"][0]["href"]
    relpath = relpath.split("/+f/", 1)[1]
    got = requests.get(f"{replica.url}/alice/dev/+f/{relpath}")
    assert got.status_code == 200
    assert got.content == dist.content
    meta = requests.get(f"{replica.url}/alice/dev/+f/{relpath}.metadata")
    assert meta.status_code == 200 and b"Name: hello" in meta.content
    wait_for(lambda: replica.storage.pending_files() == [], what="the file pool")
    assert store_digest(replica.storage) == store_digest(primary.storage)


def test_status_on_both_sides(make_cellar, primary, secretfile):
    make_index(primary)
    replica = start_replica(make_cellar, primary.url, secretfile)
    wait_for_serial(replica, primary.storage.last_serial())
    info = wait_for(lambda: (s := replica_status(replica)).get("replica-in-sync-at") and s)
    assert info["role"] == "REPLICA"
    assert info["primary-url"] == primary.url
    assert info["primary-uuid"] == primary.running.registry.cellar_nodeinfo.uuid
    assert info["primary-serial"] == primary.storage.last_serial()
    assert info["replica-lag"] == 0
    assert info["file-queue"] == 0 and info["quarantined"] == 0
    polling = wait_for(lambda: replica_status(primary)["polling_replicas"])
    uuid = replica.running.registry.cellar_nodeinfo.uuid
    assert polling[uuid]["serial"] >= primary.storage.last_serial()


def refused_by(live) -> dict | None:
    info = replica_status(live)
    return info if info["replication-state"] == "wrong-primary" else None


def file_url(live, page: str, version: str) -> str:
    """The absolute URL of the file of ``version`` on the simple page ``page``."""
    base = f"{live.url}{page}"
    hrefs = [part.split('"', 1)[0] for part in requests.get(base).text.split('href="')[1:]]
    href = next(h.split("#")[0] for h in hrefs if f"-{version}" in h)
    return requests.compat.urljoin(base, href)


def test_a_replica_refuses_another_primary_and_keeps_serving(make_cellar, primary, secretfile):
    make_index(primary)
    replica = start_replica(make_cellar, primary.url, secretfile)
    wait_for_serial(replica, primary.storage.last_serial())
    serverdir = replica.serverdir
    replica.stop()
    other = start_primary(make_cellar, secretfile)
    moved = start_replica(make_cellar, other.url, secretfile, serverdir=serverdir)
    info = wait_for(
        lambda: (s := replica_status(moved))["replication-state"] == "wrong-primary" and s
    )
    assert "keeps serving what it has" in info["messages"][0]["msg"]
    assert requests.get(f"{moved.url}/alice/dev", headers={"Accept": "application/json"}).ok


def test_files_are_fetched_on_demand_when_no_pool_runs(make_cellar, primary, secretfile):
    make_index(primary)
    dist = upload_wheel(primary)
    replica = start_replica(make_cellar, primary.url, secretfile, extra={"replica_file_threads": 0})
    wait_for_serial(replica, primary.storage.last_serial())
    assert replica.storage.pending_files()
    got = requests.get(file_url(replica, "/alice/dev/+simple/hello/", "1.0"))
    assert got.status_code == 200 and got.content == dist.content


def test_a_replica_catches_up_on_many_serials(make_cellar, primary, secretfile):
    session = make_index(primary)
    for number in range(300):
        reply = session.patch("/alice/dev", json=[f"description={number}"])
        assert reply.status_code == 200, reply.text
    upto = primary.storage.last_serial()
    replica = start_replica(make_cellar, primary.url, secretfile)
    wait_for_serial(replica, upto, timeout=60)
    assert store_digest(replica.storage) == store_digest(primary.storage)


def test_a_file_the_primary_cannot_deliver_is_quarantined_and_replication_goes_on(
    make_cellar, primary, secretfile, monkeypatch
):
    from cheesecellar_replica import files

    monkeypatch.setattr(files, "RETRY_FIRST", 0.01)
    make_index(primary)
    upload_wheel(primary, "1.0")
    primary.storage.wait_for_files()
    lost = [p for p in (primary.serverdir / "+files").rglob("hello-1.0-*.whl")]
    assert len(lost) == 1
    lost[0].unlink()  # the primary's disk lost it: it can never deliver it
    replica = start_replica(make_cellar, primary.url, secretfile)
    info = wait_for(lambda: (s := replica_status(replica))["quarantined"] == 1 and s)
    assert "quarantined" in info["messages"][0]["msg"]
    dist = upload_wheel(primary, "2.0")
    wait_for_serial(replica, primary.storage.last_serial())
    wait_for(
        lambda: (
            not any(
                r.path.endswith("2.0-py3-none-any.whl") for r in replica.storage.pending_files()
            )
        ),
        what="the 2.0 wheel",
    )
    relpath = lost[0].relative_to(primary.serverdir / "+files").as_posix()
    refused = requests.get(f"{replica.url}/{relpath}")
    assert refused.status_code == 502
    assert "has not got" in refused.text
    got = requests.get(file_url(replica, "/alice/dev/+simple/hello/", "2.0"))
    assert got.content == dist.content


def test_writes_on_a_replica_are_relayed_and_read_back_at_once(make_cellar, primary, secretfile):
    replica = start_replica(make_cellar, primary.url, secretfile)
    wait_for_serial(replica, primary.storage.last_serial())
    # Every step goes through the replica: user, login, index, upload, then reads.
    session = make_index(replica, "bob", "dev")
    reply = session.patch("/bob/dev", json=["title=Bob's"])
    assert reply.status_code == 200, reply.text
    assert session.get("/bob/dev").json()["result"]["title"] == "Bob's"
    dist = wheel("hello", "3.0")
    reply = upload(f"{replica.url}/bob/dev/", dist, auth=("bob", "pw"))
    assert reply.status_code == 200, reply.text
    assert "X-Cellar-Replica-Behind" not in reply.headers
    versions = session.get("/bob/dev/hello").json()["result"]
    assert "3.0" in versions
    assert primary.session().get("/bob/dev/hello").json()["result"].keys() == versions.keys()
    refused = session.put("/bob/dev", json={"bases": []})  # exists: the primary says 409
    assert refused.status_code == 409
