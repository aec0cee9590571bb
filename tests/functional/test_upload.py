"""Uploads over HTTP as twine and devpi-client send them: files, metadata, docs, ACLs."""

from __future__ import annotations

import calendar
import time

import pytest
import requests
from distfiles import doczip
from distfiles import post_form
from distfiles import sdist
from distfiles import upload
from distfiles import wheel

ALICE = ("alice", "alicepw")
BOB = ("bob", "bobpw")
CARL = ("carl", "carlpw")


@pytest.fixture(scope="module")
def hosting(server):
    """alice with ``alice/dev`` (volatile) and ``alice/prod`` (not volatile); bob, carl."""
    with server.session() as session:
        for user, password in (ALICE, BOB, CARL):
            session.put(f"/{user}", json={"password": password}).raise_for_status()
        session.login(*ALICE)
        session.put("/alice/dev", json={}).raise_for_status()
        session.put("/alice/prod", json={"volatile": False}).raise_for_status()
    return server


def url(server, index: str) -> str:
    return f"{server.url}/{index}/"


def versiondata(server, index: str, project: str, version: str) -> dict:
    reply = requests.get(
        f"{server.url}/{index}/{project}/{version}", headers={"Accept": "application/json"}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["result"]


def serial(server) -> int:
    return int(requests.get(server.url + "/+api").headers["X-Devpi-Serial"])


def test_wheel_upload_stores_core_metadata(hosting):
    dist = wheel(
        "Meta_Pkg", "1.0", summary="wheel summary", requires_python=">=3.8",
        requires_dist=["requests>=2", "idna; extra == 'x'"], classifiers=["Topic :: Test"],
    )  # fmt: skip
    before = time.time()
    reply = upload(url(hosting, "alice/dev"), dist, ALICE)
    assert reply.status_code == 200, reply.reason
    data = versiondata(hosting, "alice/dev", "meta-pkg", "1.0")
    assert data["summary"] == "wheel summary"
    assert data["requires_python"] == ">=3.8"
    assert data["requires_dist"] == ["requests>=2", "idna; extra == 'x'"]
    assert data["classifiers"] == ["Topic :: Test"]
    (link,) = data["+links"]
    assert link["rel"] == "releasefile"
    assert link["size"] == dist.size
    assert link["hashes"] == {"sha256": dist.sha256}
    uploaded = calendar.timegm(time.strptime(link["upload_time"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert before - 2 <= uploaded <= time.time() + 2
    (entry,) = link["log"]
    assert entry["what"] == "upload"
    assert entry["who"] == "alice"
    assert entry["dst"] == "alice/dev"
    assert len(entry["when"]) == 6
    assert abs(calendar.timegm((*entry["when"], 0, 0, 0)) - uploaded) <= 2


def test_sdist_upload_reads_pkg_info(hosting):
    dist = sdist("sdistpkg", "2.0", summary="from PKG-INFO", requires_python=">=3.9")
    reply = upload(url(hosting, "alice/dev"), dist, ALICE)
    assert reply.status_code == 200, reply.reason
    data = versiondata(hosting, "alice/dev", "sdistpkg", "2.0")
    assert data["summary"] == "from PKG-INFO"
    assert data["requires_python"] == ">=3.9"
    assert [link["href"].rsplit("/", 1)[1] for link in data["+links"]] == ["sdistpkg-2.0.tar.gz"]


def test_submit_registers_metadata_without_files(hosting):
    fields = {":action": "submit", "name": "Registered", "version": "0.1", "summary": "only meta"}
    reply = post_form(url(hosting, "alice/dev"), fields, ALICE)
    assert reply.status_code == 200, reply.reason
    data = versiondata(hosting, "alice/dev", "registered", "0.1")
    assert data["summary"] == "only meta"
    assert data["name"] == "Registered"
    assert data["+links"] == []


def test_doc_upload_is_stored_and_downloadable(hosting):
    upload(url(hosting, "alice/dev"), wheel("docpkg", "1.0"), ALICE).raise_for_status()
    docs = doczip()
    fields = {":action": "doc_upload", "name": "docpkg", "version": "1.0"}
    files = {"content": ("docpkg-1.0.zip", docs, "application/zip")}
    reply = post_form(url(hosting, "alice/dev"), fields, ALICE, files)
    assert reply.status_code == 200, reply.reason
    links = versiondata(hosting, "alice/dev", "docpkg", "1.0")["+links"]
    (doc,) = [link for link in links if link["rel"] == "doczip"]
    assert doc["href"].endswith("/docpkg-1.0.doc.zip")
    assert requests.get(doc["href"]).content == docs
    page = requests.get(f"{hosting.url}/alice/dev/+simple/docpkg/").text
    assert "docpkg-1.0.doc.zip" not in page


def test_volatile_index_overwrites_and_counts(hosting):
    first = wheel("overpkg", "1.0", payload=b"A = 1\n")
    second = wheel("overpkg", "1.0", payload=b"A = 2\n", summary="second")
    third = wheel("overpkg", "1.0", payload=b"A = 3\n", summary="third")
    hrefs = []
    for dist in (first, second, third):
        reply = upload(url(hosting, "alice/dev"), dist, ALICE)
        assert reply.status_code == 200, reply.reason
        (link,) = versiondata(hosting, "alice/dev", "overpkg", "1.0")["+links"]
        hrefs.append(link["href"])
    assert link["hashes"]["sha256"] == third.sha256
    assert requests.get(link["href"]).content == third.content
    assert requests.get(link["href"] + ".metadata").content == third.metadata
    assert versiondata(hosting, "alice/dev", "overpkg", "1.0")["summary"] == "third"
    hosting.storage.wait_for_files()  # removed files leave the tree after the reply
    for old in hrefs[:2]:
        assert requests.get(old).status_code == 404
        assert requests.get(old + ".metadata").status_code == 404
        relpath = old.split(hosting.url + "/", 1)[1]
        assert not (hosting.serverdir / "+files" / relpath).exists()
        assert not (hosting.serverdir / "+files" / (relpath + ".metadata")).exists()
    overwrites = [entry for entry in link["log"] if entry["what"] == "overwrite"]
    assert [entry["count"] for entry in overwrites] == [1, 2]


def test_other_user_gets_403_with_reason(hosting):
    before = serial(hosting)
    reply = upload(url(hosting, "alice/dev"), wheel("bobpkg", "1.0"), BOB)
    assert reply.status_code == 403
    assert reply.reason == "no permission to submit"
    assert serial(hosting) == before


def test_anonymous_gets_401_and_a_basic_challenge(hosting):
    reply = upload(url(hosting, "alice/dev"), wheel("anonpkg", "1.0"))
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == 'Basic realm="pypi"'


def test_acl_upload_lets_listed_users_in(hosting):
    with hosting.session() as session:
        session.login(*ALICE)
        session.put("/alice/team", json={}).raise_for_status()
        target = url(hosting, "alice/team")
        assert upload(target, wheel("teampkg", "1.0"), CARL).status_code == 403
        session.patch("/alice/team", json=["acl_upload+=carl"]).raise_for_status()
        assert upload(target, wheel("teampkg", "1.0"), CARL).status_code == 200
        assert upload(target, wheel("teampkg", "1.1"), BOB).status_code == 403
        session.patch("/alice/team", json=["acl_upload+=:AUTHENTICATED:"]).raise_for_status()
    assert upload(target, wheel("teampkg", "1.1"), BOB).status_code == 200
    assert upload(target, wheel("teampkg", "1.2")).status_code == 401
    assert versiondata(hosting, "alice/team", "teampkg", "1.0")["+links"][0]["log"][0]["who"] == (
        "carl"
    )


def test_upload_to_a_mirror_is_refused(hosting):
    before = serial(hosting)
    with hosting.session() as session:
        token = session.login("root", "")
    reply = upload(url(hosting, "root/pypi"), wheel("mirrorpkg", "1.0"), ("root", token))
    assert reply.status_code == 404
    assert "mirror" in reply.reason
    assert serial(hosting) == before


def test_token_in_basic_auth_uploads(hosting):
    with hosting.session() as session:
        token = session.login(*ALICE)
    reply = upload(url(hosting, "alice/dev"), wheel("tokenpkg", "1.0"), ("alice", token))
    assert reply.status_code == 200, reply.reason
    reply = upload(url(hosting, "alice/dev"), wheel("tokenpkg", "1.1"), ("alice", token + "x"))
    assert reply.status_code == 401


def test_non_volatile_refuses_a_different_file(hosting):
    target = url(hosting, "alice/prod")
    upload(target, wheel("stable", "1.0", payload=b"A = 1\n"), ALICE).raise_for_status()
    before = serial(hosting)
    reply = upload(target, wheel("stable", "1.0", payload=b"A = 2\n"), ALICE)
    assert reply.status_code == 409
    assert "already exists in non-volatile index" in reply.reason
    assert serial(hosting) == before


def test_non_volatile_identical_reupload_takes_no_serial(hosting):
    target = url(hosting, "alice/prod")
    dist = wheel("same", "1.0")
    first = upload(target, dist, ALICE)
    assert first.status_code == 200
    again = upload(target, dist, ALICE)
    assert again.status_code == 200
    assert again.reason == "Upload of identical file to non volatile index."
    assert again.headers["X-Devpi-Serial"] == first.headers["X-Devpi-Serial"]
    assert serial(hosting) == int(first.headers["X-Devpi-Serial"])


def test_non_volatile_allows_new_versions_and_files(hosting):
    target = url(hosting, "alice/prod")
    upload(target, wheel("growing", "1.0"), ALICE).raise_for_status()
    assert upload(target, sdist("growing", "1.0"), ALICE).status_code == 200
    assert upload(target, wheel("growing", "1.1"), ALICE).status_code == 200
    assert len(versiondata(hosting, "alice/prod", "growing", "1.0")["+links"]) == 2


def test_non_volatile_delete_needs_force(hosting):
    target = url(hosting, "alice/prod")
    upload(target, wheel("keep", "1.0"), ALICE).raise_for_status()
    upload(target, wheel("keep", "2.0"), ALICE).raise_for_status()
    href = versiondata(hosting, "alice/prod", "keep", "1.0")["+links"][0]["href"]
    base = f"{hosting.url}/alice/prod/keep"
    for path in (href, f"{base}/1.0", base):
        reply = requests.delete(path, auth=ALICE)
        assert reply.status_code == 403, path
    assert requests.get(href).status_code == 200
    assert requests.delete(href + "?force=", auth=ALICE).status_code == 200
    assert requests.get(href).status_code == 404
    assert requests.delete(f"{base}/2.0?force=", auth=ALICE).status_code == 200
    upload(target, wheel("keep", "3.0"), ALICE).raise_for_status()
    assert requests.delete(f"{base}?force=", auth=ALICE).status_code == 200
    assert requests.get(base, headers={"Accept": "application/json"}).status_code == 404
