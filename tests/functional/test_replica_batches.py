"""Small blobs in one request (the primary's batch answer), and the serial a replicated
file belongs to when the replica learns it from its changelog after a restart."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import requests
from distfiles import upload
from distfiles import wheel
from replicakit import make_secret
from replicakit import start_primary
from replicakit import start_replica
from replicakit import store_digest
from replicakit import wait_for
from replicakit import wait_for_serial

from cheesecellar.auth.secret import read_secret
from cheesecellar.storage import ChangelogEntry
from cheesecellar.storage import FileChange
from cheesecellar.storage import FileRef
from cheesecellar.storage_memory import MemoryStorage
from cheesecellar_replica.client import PrimaryClient
from cheesecellar_replica.files import SerialFinder
from cheesecellar_replica.protocol import BATCH
from cheesecellar_replica.protocol import BATCH_BLOB_MAX
from cheesecellar_replica.protocol import BATCH_PATHS
from cheesecellar_replica.protocol import BLOB_PATH
from cheesecellar_replica.protocol import TOKEN_HEADER
from cheesecellar_replica.protocol import UUID_HEADER
from cheesecellar_replica.tokens import ReplicaTokens


@pytest.fixture
def secretfile(tmp_path):
    return make_secret(tmp_path / "secret")


@pytest.fixture
def primary(make_cellar, secretfile):
    return start_primary(make_cellar, secretfile)


def client_of(primary, secretfile) -> PrimaryClient:
    return PrimaryClient(primary.url, ReplicaTokens(read_secret(secretfile)), "replica-1")


def replica_headers(secretfile) -> dict[str, str]:
    token = ReplicaTokens(read_secret(secretfile)).make("replica-1")
    return {UUID_HEADER: "replica-1", TOKEN_HEADER: token, "Accept": "application/json"}


def upload_wheels(primary, *payloads: bytes) -> list[str]:
    """Upload a wheel per payload to alice/dev; return their relpaths."""
    session = primary.session()
    session.put("/alice", json={"password": "pw"}).raise_for_status()
    session.login("alice", "pw")
    session.put("/alice/dev", json={"bases": []}).raise_for_status()
    relpaths = []
    for number, payload in enumerate(payloads):
        dist = wheel("batched", f"1.{number}", payload=payload)
        reply = upload(f"{primary.url}/alice/dev/", dist, auth=("alice", "pw"))
        assert reply.status_code == 200, reply.text
        relpaths.append(f"alice/dev/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}/{dist.filename}")
    return relpaths


def test_a_batch_brings_small_blobs_and_names_the_others(primary, secretfile):
    small, large = upload_wheels(primary, b"x = 1\n", os.urandom(BATCH_BLOB_MAX + 1))
    client = client_of(primary, secretfile)
    wanted = [small, small + ".metadata", large, "alice/dev/+f/abc/def/none-1.0.whl"]
    contents = client.small_blobs(wanted)
    assert sorted(contents) == [small, small + ".metadata"]
    with primary.storage.transaction() as tx:
        for relpath, content in contents.items():
            assert hashlib.sha256(content).hexdigest() == tx.file_info(relpath).sha256
    url = f"{primary.url}{BLOB_PATH}{BATCH}"
    reply = requests.get(url, params={"path": wanted}, headers=replica_headers(secretfile))
    index = json.loads(reply.content.partition(b"\n")[0])
    assert [item.get("missing") for item in index] == [None, None, "large", "absent"]


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ([], "give 1 to"),
        (["a/b"] * (BATCH_PATHS + 1), "give 1 to"),
        (["../etc/passwd"], ""),
    ],
)
def test_a_bad_batch_is_refused_with_400(primary, secretfile, paths, message):
    url = f"{primary.url}{BLOB_PATH}{BATCH}"
    reply = requests.get(url, params={"path": paths}, headers=replica_headers(secretfile))
    assert reply.status_code == 400
    assert message in reply.json()["message"]


def test_a_batch_needs_a_replica_token(primary):
    reply = requests.get(
        f"{primary.url}{BLOB_PATH}{BATCH}",
        params={"path": ["a/b"]},
        headers={"Accept": "application/json"},
    )
    assert reply.status_code == 403


def test_a_replica_catching_up_by_batches_ends_identical(make_cellar, primary, secretfile):
    payloads = [f"v = {n}\n".encode() for n in range(BATCH_PATHS + 5)]
    upload_wheels(primary, *payloads, os.urandom(BATCH_BLOB_MAX * 2))
    replica = start_replica(make_cellar, primary.url, secretfile)
    wait_for_serial(replica, primary.storage.last_serial())
    wait_for(lambda: replica.storage.pending_files() == [], what="the file pool")
    assert store_digest(replica.storage) == store_digest(primary.storage)
    status = requests.get(f"{replica.url}/+status", headers={"Accept": "application/json"})
    assert status.json()["result"]["quarantined"] == 0


def test_the_serial_of_a_blob_pending_since_before_a_restart_is_found():
    storage = MemoryStorage()
    blob_a = FileRef("a/b/+f/one.whl", "1" * 64, 10)
    blob_b = FileRef("a/b/+f/two.whl", "2" * 64, 20)
    entries = [
        ChangelogEntry(0, 0.0, [], [FileChange(blob_a.path, "0" * 64, 5)]),
        ChangelogEntry(1, 0.0, [], [FileChange(*vars(blob_b).values())]),
        ChangelogEntry(2, 0.0, [], [FileChange(*vars(blob_a).values())]),
        ChangelogEntry(3, 0.0, [], []),
    ]
    storage.import_changes(entries)
    finder = SerialFinder(storage)
    assert finder.pop(blob_a) == 2, "the newest change naming that content"
    assert finder.pop(blob_b) == 1
    finder.remember(blob_b, 7)
    assert finder.pop(blob_b) == 7, "what the follower told wins"
    assert finder.pop(FileRef("a/b/+f/gone.whl", "3" * 64, 1)) == -1
