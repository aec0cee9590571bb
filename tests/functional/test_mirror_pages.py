"""Mirror project pages: upstream details on our pages, caching, expiry, outages, offline."""

from __future__ import annotations

import concurrent.futures
import dataclasses

import pytest
import requests
from distfiles import upload
from distfiles import wheel
from mirrorkit import HTML_ACCEPT
from mirrorkit import JSON_TYPE
from mirrorkit import REQUEST_TIMEOUT
from mirrorkit import Anchors
from mirrorkit import dist_named
from mirrorkit import entry_of
from mirrorkit import filenames
from mirrorkit import new_mirror
from mirrorkit import page_requests
from mirrorkit import root_pypi
from mirrorkit import start_root_pypi
from mirrorkit import unique
from mirrorkit import user_index
from tests.upstream.catalog import YANK_REASON
from tests.upstream.catalog import seed_catalog

WHEEL_2323 = "requests-2.32.3-py3-none-any.whl"
YANKED_WHEEL = "requests-2.32.0-py3-none-any.whl"
SDIST_2323 = "requests-2.32.3.tar.gz"


@pytest.mark.parametrize("mode", ["json", "html"])
def test_our_pages_carry_what_upstream_says(shared, make_upstream, mode):
    upstream = make_upstream(mode=mode)
    mirror = new_mirror(*shared, upstream)
    page = mirror.json_page("requests")
    assert page["name"] == "requests"
    assert page["versions"] == ["2.31.0", "2.32.0", "2.32.3"]
    assert filenames(page) == {file.filename for file in upstream.catalog.project("requests").files}
    wheel_file = dist_named(upstream, WHEEL_2323)
    entry = entry_of(page, WHEEL_2323)
    assert entry["hashes"] == {"sha256": wheel_file.sha256}
    assert entry["requires-python"] == ">=3.8"
    assert entry["core-metadata"] == {"sha256": wheel_file.metadata_sha256}
    assert "yanked" not in entry
    assert entry_of(page, YANKED_WHEEL)["yanked"] == YANK_REASON
    assert "core-metadata" not in entry_of(page, SDIST_2323)  # upstream has none for sdists
    if mode == "json":  # PEP 700 details come only with upstream JSON
        assert entry["size"] == wheel_file.size
        assert entry["upload-time"].startswith("2024-05-29T15:37:47")
    else:
        assert "size" not in entry
        assert "upload-time" not in entry
    html = mirror.page("requests", **HTML_ACCEPT)
    anchors = Anchors(html.text).found
    attrs = anchors[WHEEL_2323]
    assert attrs["href"].endswith(f"/{WHEEL_2323}#sha256={wheel_file.sha256}")
    assert attrs["data-requires-python"] == ">=3.8"
    assert attrs["data-core-metadata"] == f"sha256={wheel_file.metadata_sha256}"
    assert "data-yanked" not in attrs
    assert anchors[YANKED_WHEEL]["data-yanked"] == YANK_REASON
    assert page_requests(upstream, "requests") == 1


def test_a_page_is_fetched_once_and_then_served_from_the_cache(mirror, upstream):
    first = mirror.json_page("requests")
    for headers in (HTML_ACCEPT, {"Accept": "*/*"}, {"Accept": JSON_TYPE}):
        assert mirror.page("Requests", **headers).status_code == 200
    assert mirror.json_page("requests") == first
    assert page_requests(upstream, "requests") == 1


def test_a_new_release_appears_only_after_the_expiry(mirror, upstream):
    assert "2.99.0" not in mirror.json_page("requests")["versions"]  # fresh for 30 minutes
    upstream.catalog.add("requests", "2.99.0")
    assert "2.99.0" not in mirror.json_page("requests")["versions"]
    assert page_requests(upstream, "requests") == 1
    mirror.patch("mirror_cache_expiry=0")  # so every cached page is due now
    assert "2.99.0" in mirror.json_page("requests")["versions"]


def test_revalidation_is_conditional_and_a_304_keeps_the_page(shared, upstream):
    mirror = new_mirror(*shared, upstream, mirror_cache_expiry=0)
    first = mirror.json_page("requests")
    upstream.clear_log()
    assert mirror.json_page("requests") == first
    asked = upstream.matching("/simple/requests/")
    assert asked
    for record in asked:
        assert record.header("If-None-Match")
        assert record.header("If-Modified-Since")
        assert record.status == 304
    upstream.catalog.add("requests", "2.99.0")
    assert "2.99.0" in mirror.json_page("requests")["versions"]


def test_one_client_request_revalidates_once(shared, upstream):
    mirror = new_mirror(*shared, upstream, mirror_cache_expiry=0)
    mirror.json_page("requests")
    mirror.json_page("requests")
    assert page_requests(upstream, "requests") == 2


def test_the_server_wide_expiry_applies_to_root_pypi(make_cellar, upstream):
    mirror = root_pypi(start_root_pypi(make_cellar, upstream, mirror_cache_expiry=0), upstream)
    mirror.json_page("requests")
    upstream.catalog.add("requests", "2.99.0")
    assert "2.99.0" in mirror.json_page("requests")["versions"]


def test_an_upstream_404_is_a_404(mirror, upstream):
    reply = mirror.page("no-such-project")
    assert reply.status_code == 404
    assert mirror.page("no-such-project").status_code == 404
    assert page_requests(upstream, "no-such-project") == 1


def test_refresh_shows_a_new_release_at_once(mirror, upstream):
    mirror.json_page("requests")
    upstream.catalog.add("requests", "2.99.0")
    refresh = f"{mirror.url}/+simple/Requests/refresh"
    reply = requests.post(refresh, allow_redirects=False, timeout=30)
    assert reply.status_code == 302
    assert reply.headers["Location"] == f"{mirror.url}/+simple/requests/"
    assert "2.99.0" in mirror.json_page("requests")["versions"]
    assert page_requests(upstream, "requests") == 2
    unknown = f"{mirror.live.url}/root/nothere/+simple/requests/refresh"
    assert requests.post(unknown, timeout=30).status_code == 404


def test_a_serial_going_back_is_an_outage(shared, upstream):
    mirror = new_mirror(*shared, upstream, mirror_cache_expiry=0)
    upstream.catalog.add("requests", "2.99.0")
    assert "2.99.0" in mirror.json_page("requests")["versions"]
    upstream.catalog = seed_catalog()  # a stale copy of the index, with a lower serial
    assert "2.99.0" in mirror.json_page("requests")["versions"]
    assert upstream.matching("/simple/requests/")[-1].status == 200
    mirror.patch("mirror_ignore_serial_header=True")
    assert "2.99.0" not in mirror.json_page("requests")["versions"]


# --- outages ---------------------------------------------------------------------------------
def _change_and_truncate(server) -> None:
    server.catalog.add("requests", "2.99.0")  # a changed page: a 200, not a 304
    server.fault("/simple/*", "truncate", fraction=0.3)


OUTAGES = {
    "stopped": lambda server: server.stop(),
    "500": lambda server: server.fault("/simple/*", 500),
    "reset": lambda server: server.fault("/simple/*", "reset"),
    "truncated": _change_and_truncate,
    "slower than the timeout": lambda server: server.fault(
        "/simple/*", "delay", seconds=REQUEST_TIMEOUT * 5
    ),
}


@pytest.mark.parametrize("outage", OUTAGES)
def test_an_outage_serves_the_cached_page(shared, upstream, outage, caplog):
    mirror = new_mirror(*shared, upstream, mirror_cache_expiry=0)
    cached = mirror.json_page("requests")
    upstream.clear_log()
    OUTAGES[outage](upstream)
    with concurrent.futures.ThreadPoolExecutor() as pool:
        stale = pool.submit(mirror.page, "requests")
        unknown = pool.submit(mirror.page, "idna")
        assert stale.result().json() == cached
        reply = unknown.result()
    assert reply.status_code == 502
    expected = f"idna is not cached and the upstream of {mirror.index} is unavailable"
    assert expected in reply.text
    assert "no such project" not in reply.text.lower()
    assert "serving the cached page of requests" in caplog.text
    if outage != "stopped":
        assert 1 < page_requests(upstream, "idna") <= 4  # retried, but not forever


def test_offline_mode_serves_only_what_is_cached(make_cellar, upstream, tmp_path):
    online = root_pypi(start_root_pypi(make_cellar, upstream, serverdir=tmp_path / "s"), upstream)
    online.json_page("requests")
    wheel_file = dist_named(upstream, WHEEL_2323)
    assert requests.get(online.file_url(wheel_file), timeout=30).content == wheel_file.read()
    online.live.stop()
    upstream.clear_log()
    live = make_cellar(serverdir=tmp_path / "s", offline_mode=True)
    offline = root_pypi(live, upstream)
    assert filenames(offline.json_page("requests")) == {WHEEL_2323}
    assert requests.get(offline.file_url(wheel_file), timeout=30).content == wheel_file.read()
    other = dist_named(upstream, "requests-2.31.0-py3-none-any.whl")
    assert requests.get(offline.file_url(other), timeout=30).status_code == 404
    assert offline.page("idna").status_code == 404
    assert [entry["name"] for entry in offline.names().json()["projects"]] == ["requests"]
    assert upstream.requests == []


# --- private names ---------------------------------------------------------------------------
def test_a_private_project_shadows_the_mirror_and_is_never_asked_for(mirror, upstream):
    index = f"{unique('alice')}/dev"
    auth = user_index(mirror.live, index, bases=mirror.index)
    private = wheel("requests", "9.0")
    upload(f"{mirror.live.url}/{index}/", private, auth).raise_for_status()
    user_view = new_view(mirror, index)
    assert filenames(user_view.json_page("requests")) == {private.filename}
    assert user_view.json_page("idna")["versions"] == ["3.7"]
    assert page_requests(upstream, "requests") == 0
    user_view.patch("mirror_whitelist=requests")
    shown = filenames(user_view.json_page("requests"))
    assert {private.filename, WHEEL_2323} <= shown
    assert page_requests(upstream, "requests") == 1


def test_refresh_never_asks_for_a_private_name(mirror, upstream):
    index = f"{unique('carol')}/dev"
    auth = user_index(mirror.live, index, bases=mirror.index)
    upload(f"{mirror.live.url}/{index}/", wheel("secret-project", "1.0"), auth).raise_for_status()
    refresh = f"{mirror.live.url}/{index}/+simple/secret-project/refresh"
    assert requests.post(refresh, allow_redirects=False, timeout=30).status_code == 302
    assert page_requests(upstream, "secret-project") == 0
    refresh = f"{mirror.live.url}/{index}/+simple/idna/refresh"
    assert requests.post(refresh, allow_redirects=False, timeout=30).status_code == 302
    assert page_requests(upstream, "idna") == 1


def new_view(mirror, index: str):
    """The same helpers for another index of the mirror's server."""
    return dataclasses.replace(mirror, index=index)
