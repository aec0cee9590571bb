"""Mirror indexes on a replica go through the primary: pip installs from the replica, the
primary fetches upstream and caches, both stores end with the same files, and the replica
never asks upstream itself; with the primary down it serves what it has."""

from __future__ import annotations

import hashlib
from urllib.parse import urljoin

import pytest
import requests
from replicakit import FAST
from replicakit import PLUGINS
from replicakit import make_secret
from replicakit import start_primary
from replicakit import wait_for
from replicakit import wait_for_serial
from tests.functional.mirrorkit import JSON_ACCEPT
from tests.functional.mirrorkit import REQUEST_TIMEOUT
from tests.functional.mirrorkit import dist_named
from tests.functional.mirrorkit import exact_requests
from tests.functional.mirrorkit import mislabelled
from tests.functional.mirrorkit import page_requests
from tests.upstream.fixtures import pip_env
from tests.upstream.fixtures import run_pip

from cheesecellar import hookimpl
from cheesecellar_mirror.upstream import Upstream

#: The closure of ``requests==2.32.3`` in the upstream kit's seed catalog.
WHEELS = (
    "requests-2.32.3-py3-none-any.whl",
    "certifi-2024.7.4-py3-none-any.whl",
    "charset_normalizer-3.3.2-py3-none-any.whl",
    "idna-3.7-py3-none-any.whl",
    "urllib3-2.2.2-py3-none-any.whl",
)
#: Larger than what a server holds back from a client until the file is verified.
BIG_ENOUGH = 512 * 1024
BROKEN = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
#: The User-Agent of any upstream client the replica would build for itself.
REPLICA_UPSTREAM_AGENT = "replica-asked-upstream"


class ReplicaUpstreamMarker:
    """Gives the replica's own upstream clients a User-Agent of their own, so the
    upstream's log shows whether the replica ever asked it."""

    @hookimpl
    def cellar_get_upstream(self, indexname, ixconfig, settings):
        return Upstream(ixconfig["mirror_url"], timeout=1.0, user_agent=REPLICA_UPSTREAM_AGENT)


@pytest.fixture
def pair(make_cellar, upstream, tmp_path):
    """A primary whose ``root/pypi`` mirrors the local upstream, and its replica."""
    secretfile = make_secret(tmp_path / "secret")
    extra = {"no_root_pypi": False, "mirror_url": upstream.index_url}
    primary = start_primary(
        make_cellar, secretfile, extra={**extra, "request_timeout": REQUEST_TIMEOUT}
    )
    replica = make_cellar(
        plugins=(*PLUGINS, ReplicaUpstreamMarker()),
        role="replica",
        primary_url=primary.url,
        secretfile=secretfile,
        extra=FAST,
    )
    wait_for(lambda: replica.storage.last_serial() >= primary.storage.last_serial())
    return primary, replica


def relpath(dist) -> str:
    return f"root/pypi/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}/{dist.filename}"


def blob_bytes(live, path: str) -> bytes | None:
    """The content of a blob the store holds, or None while it has none."""
    try:
        with live.storage.transaction() as tx:
            if tx.file_info(path) is None:
                return None
        if path in {ref.path for ref in live.storage.pending_files()}:
            return None
        with live.storage.open_file(path) as fp:
            return fp.read()
    except FileNotFoundError:
        return None


def json_page(live, project: str) -> requests.Response:
    return requests.get(f"{live.url}/root/pypi/+simple/{project}/", headers=JSON_ACCEPT)


def file_url(live, page: requests.Response, filename: str) -> str:
    entry = next(e for e in page.json()["files"] if e["filename"] == filename)
    return urljoin(page.url, entry["url"]).split("#")[0]


def agents(upstream) -> set[str]:
    return {record.header("User-Agent") or "" for record in list(upstream.requests)}


def test_pip_installs_through_the_replica_and_both_keep_the_files(pair, upstream, tmp_path):
    primary, replica = pair
    target = tmp_path / "site"
    index = f"{replica.url}/root/pypi/+simple/"
    args = ["install", "--no-cache-dir", "--target", str(target), "-i", index]
    result = run_pip([*args, "requests==2.32.3"], pip_env(tmp_path / "pip"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "requests" / "__init__.py").is_file() or any(target.iterdir())

    for filename in WHEELS:
        dist = dist_named(upstream, filename)
        path = relpath(dist)
        assert exact_requests(upstream, dist.url_path) == 1, filename
        on_primary = wait_for(lambda p=path: blob_bytes(primary, p), what=f"{path} on the primary")
        on_replica = wait_for(lambda p=path: blob_bytes(replica, p), what=f"{path} on the replica")
        assert hashlib.sha256(on_primary).hexdigest() == dist.sha256
        assert on_replica == on_primary
        assert (replica.serverdir / "+files" / path).read_bytes() == on_primary
    assert page_requests(upstream, "requests") == 1
    assert REPLICA_UPSTREAM_AGENT not in agents(upstream)
    assert all(agent.startswith("cheesecellar/") for agent in agents(upstream))


def test_a_replica_page_links_to_the_replica(pair, upstream):
    primary, replica = pair
    page = json_page(replica, "idna")
    assert page.status_code == 200, page.text
    url = file_url(replica, page, "idna-3.7-py3-none-any.whl")
    assert url.startswith(f"{replica.url}/root/pypi/+f/")
    assert json_page(primary, "idna").json()["files"] == page.json()["files"]
    reply = requests.get(url)
    assert reply.status_code == 200
    assert (
        hashlib.sha256(reply.content).hexdigest()
        == dist_named(upstream, url.rsplit("/")[-1]).sha256
    )
    assert page_requests(upstream, "idna") == 1
    assert REPLICA_UPSTREAM_AGENT not in agents(upstream)


def test_the_project_list_comes_from_the_primary(pair, upstream):
    _primary, replica = pair
    reply = requests.get(f"{replica.url}/root/pypi/+simple/", headers=JSON_ACCEPT)
    assert reply.status_code == 200, reply.text
    names = {project["name"] for project in reply.json()["projects"]}
    assert {"requests", "idna", "certifi", "urllib3", "charset-normalizer"} <= names
    assert exact_requests(upstream, "/simple/") == 1
    assert REPLICA_UPSTREAM_AGENT not in agents(upstream)


def test_a_refresh_on_the_replica_is_done_by_the_primary(pair, upstream):
    _primary, replica = pair
    assert "2.33.0" not in json_page(replica, "requests").json()["versions"]
    upstream.catalog.add("requests", "2.33.0")
    reply = requests.post(
        f"{replica.url}/root/pypi/+simple/requests/refresh", allow_redirects=False
    )
    assert reply.status_code == 302, reply.text
    assert reply.headers["Location"] == f"{replica.url}/root/pypi/+simple/requests/"
    assert f"found at {replica.url}/root/pypi/+simple/requests/" in reply.text
    assert "2.33.0" in json_page(replica, "requests").json()["versions"]
    assert page_requests(upstream, "requests") == 2
    assert REPLICA_UPSTREAM_AGENT not in agents(upstream)


def test_the_replica_names_its_primary_without_a_restart(pair):
    primary, replica = pair
    reply = requests.get(f"{replica.url}/+api", headers={"Accept": "application/json"})
    assert reply.headers["X-Devpi-Primary-Uuid"] == primary.running.registry.cellar_nodeinfo.uuid
    assert reply.headers["X-Devpi-Uuid"] == replica.running.registry.cellar_nodeinfo.uuid
    assert reply.headers["X-Devpi-Uuid"] != reply.headers["X-Devpi-Primary-Uuid"]


def test_with_the_primary_down_the_replica_serves_what_it_has(pair, upstream):
    primary, replica = pair
    admin = primary.session()
    admin.login("root", "")
    # Every page request asks the primary again, so the outage is met.
    admin.patch("/root/pypi", json=["mirror_cache_expiry=0"]).raise_for_status()
    wait_for(lambda: replica.storage.last_serial() >= primary.storage.last_serial())
    page = json_page(replica, "requests")
    held = file_url(replica, page, "requests-2.32.3-py3-none-any.whl")
    missing = file_url(replica, page, "requests-2.31.0-py3-none-any.whl")
    content = requests.get(held).content
    path = relpath(dist_named(upstream, "requests-2.32.3-py3-none-any.whl"))
    wait_for(lambda: blob_bytes(replica, path), what="the file on the replica")

    primary.stop()

    page = json_page(replica, "requests")
    assert page.status_code == 200, page.text
    assert {e["filename"] for e in page.json()["files"]} == {"requests-2.32.3-py3-none-any.whl"}
    reply = requests.get(held)
    assert reply.status_code == 200 and reply.content == content
    reply = requests.get(missing, headers={"Accept": "application/json"})
    assert reply.status_code == 502
    assert "primary is unavailable" in reply.json()["message"]
    reply = json_page(replica, "idna")
    assert reply.status_code == 502
    assert "idna is not on this replica and its primary is unavailable" in reply.text


def test_a_wrong_file_is_streamed_but_never_completed_by_the_replica(pair, upstream):
    primary, replica = pair
    dist = mislabelled(upstream.catalog, "wrongpkg", "1.0", payload=BIG_ENOUGH)
    page = json_page(replica, "wrongpkg")
    upstream.fault(dist.filename, "slow", chunk=32 * 1024, seconds=0.02)
    received = bytearray()
    with (
        pytest.raises(BROKEN),
        requests.get(file_url(replica, page, dist.filename), stream=True, timeout=60) as reply,
    ):
        assert reply.status_code == 200  # streamed while the primary downloads it...
        assert int(reply.headers["Content-Length"]) == dist.size
        for chunk in reply.iter_content(8192):
            received += chunk
    assert 0 < len(received) < dist.size  # ...but never completed
    for live in (primary, replica):
        assert blob_bytes(live, relpath(dist)) is None


def test_a_file_the_primary_cannot_fetch_does_not_stall_replication(pair, upstream):
    primary, replica = pair
    broken = dist_named(upstream, "idna-3.7-py3-none-any.whl")
    fine = dist_named(upstream, "certifi-2024.7.4-py3-none-any.whl")
    upstream.fault(broken.filename, 503)
    idna = json_page(replica, "idna")
    assert idna.status_code == 200
    reply = requests.get(file_url(replica, idna, broken.filename), timeout=30)
    assert reply.status_code == 502, reply.text
    assert broken.filename in reply.text  # the reason, for pip to show

    # Replication goes on: a new user on the primary, then a file that upstream gives.
    with primary.session() as session:
        session.put("/carol", json={"password": "pw"}).raise_for_status()
    wait_for_serial(replica, primary.storage.last_serial())
    with replica.session() as session:
        assert session.get("/carol").status_code == 200
    certifi = json_page(replica, "certifi")
    reply = requests.get(file_url(replica, certifi, fine.filename), timeout=30)
    assert reply.status_code == 200
    assert hashlib.sha256(reply.content).hexdigest() == fine.sha256
    assert blob_bytes(primary, relpath(broken)) is None
