"""Removing files, versions and projects as devpi-client does, and yanking (PEP 592)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import requests
from distfiles import sdist
from distfiles import upload
from distfiles import wheel

USERS = {"alice": "alicepw", "bob": "bobpw", "carl": "carlpw"}
PIP_ACCEPT = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def site(server):
    """alice owns ``alice/dev`` (carl may upload) and ``alice/child`` inheriting it."""
    with server.session() as session:
        for user, password in USERS.items():
            session.put(f"/{user}", json={"password": password}).raise_for_status()
        session.login("alice", "alicepw")
        session.put("/alice/dev", json={"acl_upload": "alice,carl"}).raise_for_status()
        session.put("/alice/child", json={"bases": "alice/dev"}).raise_for_status()
    return server


@pytest.fixture
def as_user(site):
    """``as_user(name)``: a JSON session logged in like devpi-client (None: anonymous)."""
    sessions = []

    def login(name: str | None):
        session = site.session()
        sessions.append(session)
        if name is not None:
            session.login(name, USERS.get(name, ""))
        return session

    yield login
    for session in sessions:
        session.close()


def put(site, *dists) -> None:
    for dist in dists:
        upload(f"{site.url}/alice/dev/", dist, ("alice", "alicepw")).raise_for_status()


def links(site, project: str, version: str) -> list[dict]:
    reply = requests.get(
        f"{site.url}/alice/dev/{project}/{version}", headers={"Accept": "application/json"}
    )
    return reply.json()["result"]["+links"] if reply.status_code == 200 else []


def blob(site, href: str):
    site.storage.wait_for_files()  # the file tree follows the commit shortly after the reply
    return site.serverdir / "+files" / href.split(site.url + "/", 1)[1]


def simple_json(site, index: str, project: str) -> requests.Response:
    url = f"{site.url}/alice/{index}/+simple/{project}/"
    return requests.get(url, headers={"Accept": PIP_ACCEPT})


def test_delete_file_removes_blob_and_metadata(site, as_user):
    dist = wheel("rmfile", "1.0")
    put(site, dist, sdist("rmfile", "1.0"))
    (href,) = [
        link["href"] for link in links(site, "rmfile", "1.0") if link["href"].endswith(".whl")
    ]
    assert blob(site, href).is_file()
    assert blob(site, href + ".metadata").is_file()
    reply = as_user("alice").delete(href)
    assert reply.status_code == 200, reply.text
    assert requests.get(href).status_code == 404
    assert requests.get(href + ".metadata").status_code == 404
    assert not blob(site, href).exists()
    assert not blob(site, href + ".metadata").exists()
    assert [link["href"].rsplit("/", 1)[1] for link in links(site, "rmfile", "1.0")] == [
        "rmfile-1.0.tar.gz"
    ]
    assert dist.filename not in simple_json(site, "dev", "rmfile").text
    assert as_user("alice").delete(href).status_code == 404


def test_removing_the_last_file_removes_the_version(site, as_user):
    put(site, sdist("lastfile", "1.0"), sdist("lastfile", "2.0"))
    (link,) = links(site, "lastfile", "1.0")
    assert as_user("alice").delete(link["href"]).status_code == 200
    project = as_user(None).get("/alice/dev/lastfile").json()["result"]
    assert sorted(project) == ["2.0"]
    assert simple_json(site, "dev", "lastfile").json()["versions"] == ["2.0"]


def test_delete_version(site, as_user):
    put(site, wheel("rmver", "1.0"), sdist("rmver", "1.0"), sdist("rmver", "1.1"))
    hrefs = [link["href"] for link in links(site, "rmver", "1.0")]
    reply = as_user("alice").delete("/alice/dev/rmver/1.0")
    assert reply.status_code == 200, reply.text
    assert as_user(None).get("/alice/dev/rmver/1.0").status_code == 404
    for href in hrefs:
        assert requests.get(href).status_code == 404
        assert not blob(site, href).exists()
    assert sorted(as_user(None).get("/alice/dev/rmver").json()["result"]) == ["1.1"]
    assert as_user("alice").delete("/alice/dev/rmver/1.0").status_code == 404


def test_delete_project(site, as_user):
    put(site, sdist("Rm_Proj", "1.0"), wheel("Rm_Proj", "2.0"))
    hrefs = [link["href"] for v in ("1.0", "2.0") for link in links(site, "rm-proj", v)]
    reply = as_user("alice").delete("/alice/dev/Rm_Proj")
    assert reply.status_code == 200, reply.text
    assert as_user(None).get("/alice/dev/rm-proj").status_code == 404
    assert simple_json(site, "dev", "rm-proj").status_code == 404
    assert simple_json(site, "child", "rm-proj").status_code == 404
    names = requests.get(f"{site.url}/alice/dev/+simple/", headers={"Accept": PIP_ACCEPT})
    assert {"name": "rm-proj"} not in names.json()["projects"]
    for href in hrefs:
        assert requests.get(href).status_code == 404
        assert not blob(site, href).exists()
    assert as_user("alice").delete("/alice/dev/rm-proj").status_code == 404


@pytest.mark.parametrize(("who", "allowed"), [
    ("alice", True), ("carl", True), ("root", True), ("bob", False), (None, False),
])  # fmt: skip
def test_who_may_remove(site, as_user, who, allowed):
    project = f"perm-{who}"
    put(site, sdist(project, "1.0"), sdist(project, "2.0"), sdist(project, "3.0"))
    session = as_user(who)
    (link,) = links(site, project, "1.0")
    attempts = [link["href"], f"/alice/dev/{project}/2.0", f"/alice/dev/{project}"]
    for target in attempts:
        reply = session.delete(target)
        assert reply.status_code == (200 if allowed else 403), (target, reply.text)
    expected = [] if allowed else ["1.0", "2.0", "3.0"]
    found = as_user(None).get(f"/alice/dev/{project}").json().get("result", {})
    assert sorted(found) == expected


def test_yank_marks_json_and_html_here_and_in_children(site, as_user):
    put(site, wheel("yankme", "1.0"), sdist("yankme", "1.0"), sdist("yankme", "2.0"))
    reply = as_user("alice").patch(
        "/alice/dev/yankme/1.0", json={"yanked": True, "yanked_reason": "broken"}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["type"] == "versiondata"
    for index in ("dev", "child"):
        files = {f["filename"]: f for f in simple_json(site, index, "yankme").json()["files"]}
        assert files["yankme-1.0-py3-none-any.whl"]["yanked"] == "broken"
        assert files["yankme-1.0.tar.gz"]["yanked"] == "broken"
        assert "yanked" not in files["yankme-2.0.tar.gz"]
        anchors = html_anchors(site, index, "yankme")
        assert anchors["yankme-1.0.tar.gz"]["data-yanked"] == "broken"
        assert "data-yanked" not in anchors["yankme-2.0.tar.gz"]
    for link in links(site, "yankme", "1.0"):
        assert requests.get(link["href"]).status_code == 200
    verdata = as_user(None).get("/alice/dev/yankme/1.0").json()["result"]
    assert (verdata["yanked"], verdata["yanked_reason"]) == (True, "broken")


def test_yank_survives_a_later_upload_to_the_version(site, as_user):
    put(site, sdist("stillyanked", "1.0"))
    session = as_user("alice")
    session.patch("/alice/dev/stillyanked/1.0", json={"yanked": True, "yanked_reason": "bad"})
    put(site, wheel("stillyanked", "1.0"))
    files = simple_json(site, "dev", "stillyanked").json()["files"]
    assert [f["yanked"] for f in files] == ["bad", "bad"]


def test_yank_without_reason_and_unyank(site, as_user):
    put(site, sdist("unyank", "1.0"))
    session = as_user("carl")
    assert session.patch("/alice/dev/unyank/1.0", json={"yanked": True}).status_code == 200
    (item,) = simple_json(site, "child", "unyank").json()["files"]
    assert item["yanked"] is True
    assert html_anchors(site, "child", "unyank")["unyank-1.0.tar.gz"]["data-yanked"] == ""
    assert session.patch("/alice/dev/unyank/1.0", json={"yanked": False}).status_code == 200
    for index in ("dev", "child"):
        (item,) = simple_json(site, index, "unyank").json()["files"]
        assert "yanked" not in item
        assert "data-yanked" not in html_anchors(site, index, "unyank")["unyank-1.0.tar.gz"]


@pytest.mark.parametrize("who", ["bob", None])
def test_only_uploaders_may_yank(site, as_user, who):
    put(site, sdist("noyank", "1.0"))
    serial = requests.get(site.url + "/+api").headers["X-Devpi-Serial"]
    reply = as_user(who).patch("/alice/dev/noyank/1.0", json={"yanked": True})
    assert reply.status_code == 403
    assert requests.get(site.url + "/+api").headers["X-Devpi-Serial"] == serial
    (item,) = simple_json(site, "dev", "noyank").json()["files"]
    assert "yanked" not in item


BAD_YANKS = {
    "not json": b"yanked",
    "a list": b"[true]",
    "no yanked key": b"{}",
    "yanked a string": b'{"yanked": "yes"}',
    "yanked null": b'{"yanked": null}',
    "reason a number": b'{"yanked": true, "yanked_reason": 5}',
}


@pytest.mark.parametrize("body", list(BAD_YANKS))
def test_bad_yank_bodies_are_400(site, as_user, body):
    put(site, sdist("badyank", "1.0"))
    reply = as_user("alice").patch("/alice/dev/badyank/1.0", data=BAD_YANKS[body])
    assert reply.status_code == 400
    assert reply.json()["message"]


def test_yank_of_unknown_version_is_404(site, as_user):
    reply = as_user("alice").patch("/alice/dev/nothere/1.0", json={"yanked": True})
    assert reply.status_code == 404


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attrs: list[dict] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.attrs.append(dict(attrs))

    def handle_data(self, data):
        if len(self.texts) < len(self.attrs):
            self.texts.append(data)


def html_anchors(site, index: str, project: str) -> dict[str, dict]:
    reply = requests.get(f"{site.url}/alice/{index}/+simple/{project}/")
    parser = _Anchors()
    parser.feed(reply.text)
    return dict(zip(parser.texts, parser.attrs, strict=True))
