"""Mirror files: fetched once, stored at the seed's layout, shared, verified before completion."""

from __future__ import annotations

import concurrent.futures
import hashlib

import pytest
import requests
from mirrorkit import absolute
from mirrorkit import dist_named
from mirrorkit import entry_of
from mirrorkit import exact_requests
from mirrorkit import leftovers
from mirrorkit import mislabelled
from mirrorkit import new_mirror
from mirrorkit import wait_for

WHEEL_2323 = "requests-2.32.3-py3-none-any.whl"
SDIST_2323 = "requests-2.32.3.tar.gz"
#: Larger than what the server holds back from a client until the file is verified.
BIG_ENOUGH = 512 * 1024
BROKEN = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)


def file_requests(upstream, dist) -> int:
    return exact_requests(upstream, dist.url_path)


def download(url: str) -> bytes:
    reply = requests.get(url, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.content


def test_the_first_get_fetches_and_stores_and_the_next_is_served_from_disk(mirror, upstream):
    page_url = f"{mirror.url}/+simple/requests/"
    page = mirror.json_page("requests")
    for filename in (WHEEL_2323, SDIST_2323):
        dist = dist_named(upstream, filename)
        url = absolute(page_url, entry_of(page, filename)["url"])
        assert url == mirror.file_url(dist)
        assert f"/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}/{filename}" in url
        assert download(url) == dist.read()
        assert mirror.stored_bytes(dist) == dist.read()
        assert download(url) == dist.read()
        assert file_requests(upstream, dist) == 1
    assert {record.host.split(":")[0] for record in upstream.matching("/files/")} == {"localhost"}


def test_a_file_no_page_lists_is_a_404(mirror, upstream):
    wheel = dist_named(upstream, WHEEL_2323)
    assert requests.get(mirror.file_url(wheel), timeout=30).status_code == 404
    assert upstream.count("/files/") == 0


def test_concurrent_first_downloads_share_one_upstream_request(mirror, upstream):
    dist = upstream.catalog.add("slowpkg", "1.0", payload=BIG_ENOUGH)
    mirror.json_page("slowpkg")
    upstream.fault(dist.filename, "slow", chunk=64 * 1024, seconds=0.1)
    url = mirror.file_url(dist)
    with concurrent.futures.ThreadPoolExecutor() as pool:
        first = pool.submit(download, url)
        wait_for(lambda: file_requests(upstream, dist) == 1)
        others = [pool.submit(download, url) for _ in range(3)]
        bodies = [first.result()] + [other.result() for other in others]
    assert all(body == dist.read() for body in bodies)
    assert file_requests(upstream, dist) == 1
    assert mirror.stored_bytes(dist) == dist.read()


@pytest.mark.parametrize(
    ("fault", "size"), [("corrupt", 0), ("truncate", BIG_ENOUGH)], ids=["corrupt", "truncated"]
)
def test_a_bad_download_is_neither_completed_nor_kept(mirror, upstream, fault, size):
    dist = upstream.catalog.add("badpkg", "1.0", payload=size)
    mirror.json_page("badpkg")
    upstream.fault(dist.filename, fault, times=1)
    url = mirror.file_url(dist)
    assert not _complete(url)
    wait_for(lambda: leftovers(mirror.live) == [])
    assert mirror.stored_files() == []
    assert download(url) == dist.read()  # the fault is over: this one is fetched again
    assert mirror.stored_bytes(dist) == dist.read()
    assert file_requests(upstream, dist) == 2


def test_a_bad_file_below_the_hold_back_is_answered_with_a_502(mirror, upstream):
    dist = upstream.catalog.add("smallpkg", "1.0")
    mirror.json_page("smallpkg")
    upstream.fault(dist.filename, "corrupt", times=1)
    reply = requests.get(mirror.file_url(dist), timeout=30)
    assert reply.status_code == 502
    assert f"sha256 mismatch for {dist.filename}" in reply.text
    assert download(mirror.file_url(dist)) == dist.read()


def test_a_wrong_hash_is_caught_before_the_client_has_the_whole_file(mirror, upstream):
    dist = mislabelled(upstream.catalog, "wrongpkg", "1.0", payload=BIG_ENOUGH)
    mirror.json_page("wrongpkg")
    upstream.fault(dist.filename, "slow", chunk=32 * 1024, seconds=0.02)
    received = bytearray()
    with (
        pytest.raises(BROKEN),
        requests.get(mirror.file_url(dist), stream=True, timeout=60) as reply,
    ):
        assert reply.status_code == 200  # streamed while it downloads...
        assert int(reply.headers["Content-Length"]) == dist.size
        for chunk in reply.iter_content(8192):
            received += chunk
    assert 0 < len(received) < dist.size  # ...but never completed
    wait_for(lambda: leftovers(mirror.live) == [])
    upstream.clear_faults()
    assert not _complete(mirror.file_url(dist))  # still wrong: still not kept
    assert mirror.stored_files() == []


def _complete(url: str) -> bool:
    """Whether the server gave a complete 200 answer (what a client would keep)."""
    try:
        reply = requests.get(url, timeout=60)
    except BROKEN:
        return False
    length = reply.headers.get("Content-Length")
    return reply.status_code == 200 and (length is None or int(length) == len(reply.content))


def test_upstream_errors_for_a_file(mirror, upstream):
    mirror.json_page("requests")
    for filename, status, expected in (
        (WHEEL_2323, 404, 404),
        ("requests-2.31.0-py3-none-any.whl", 500, 502),
        (SDIST_2323, 403, 502),
    ):
        upstream.fault(filename, status)
        reply = requests.get(mirror.file_url(dist_named(upstream, filename)), timeout=30)
        assert reply.status_code == expected, filename
        assert filename in reply.text
    assert mirror.stored_files() == []


def test_a_big_file_passes_through_intact(mirror, upstream):
    dist = upstream.catalog.add("bigpkg", "1.0", payload=50 * 1024 * 1024)
    mirror.json_page("bigpkg")
    digest = hashlib.sha256()
    with requests.get(mirror.file_url(dist), stream=True, timeout=60) as reply:
        assert reply.status_code == 200
        assert int(reply.headers["Content-Length"]) == dist.size
        for chunk in reply.iter_content(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == dist.sha256
    path = mirror.stored_path(dist)
    wait_for(path.is_file)
    assert _file_sha256(path) == dist.sha256


def _file_sha256(path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_metadata_passes_through_from_upstream(mirror, upstream):
    mirror.json_page("requests")
    wheel = dist_named(upstream, WHEEL_2323)
    url = mirror.file_url(wheel) + ".metadata"
    upstream.fault("/files/*.metadata", "corrupt", times=1)
    assert requests.get(url, timeout=30).status_code == 502  # its hash is checked
    for _ in range(2):
        body = download(url)
        assert hashlib.sha256(body).hexdigest() == wheel.metadata_sha256
    assert body == wheel.metadata
    assert exact_requests(upstream, wheel.url_path + ".metadata") == 2
    assert exact_requests(upstream, wheel.url_path) == 0  # the wheel itself was not needed


def test_a_cached_wheel_gives_the_metadata_upstream_lacks(shared, make_upstream):
    upstream = make_upstream(metadata=False)
    mirror = new_mirror(*shared, upstream)
    wheel = dist_named(upstream, WHEEL_2323)
    assert "core-metadata" not in entry_of(mirror.json_page("requests"), WHEEL_2323)
    url = mirror.file_url(wheel)
    assert requests.get(url + ".metadata", timeout=30).status_code == 404
    download(url)
    # The client has its verified bytes before the wheel is stored: wait for the store.
    wait_for(lambda: "core-metadata" in entry_of(mirror.json_page("requests"), WHEEL_2323))
    entry = entry_of(mirror.json_page("requests"), WHEEL_2323)
    assert entry["core-metadata"] == {"sha256": wheel.metadata_sha256}
    assert download(url + ".metadata") == wheel.metadata
    assert upstream.count("/files/") == 1


def test_external_urls_point_at_upstream(shared, upstream):
    mirror = new_mirror(*shared, upstream, mirror_use_external_urls=True)
    wheel = dist_named(upstream, WHEEL_2323)
    assert entry_of(mirror.json_page("requests"), WHEEL_2323)["url"] == upstream.file_url(wheel)
    reply = requests.get(mirror.file_url(wheel), allow_redirects=False, timeout=30)
    assert reply.status_code == 302
    assert reply.headers["Location"] == upstream.file_url(wheel)
    assert mirror.stored_files() == []
    assert upstream.count("/files/") == 0
