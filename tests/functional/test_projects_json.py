"""Project and version JSON, inheritance through bases, and the mirror whitelist that keeps
private names from being mixed with (or asked of) a mirror."""

from __future__ import annotations

import hashlib
import threading
from urllib.parse import urljoin

import pytest
import requests
from distfiles import doczip
from distfiles import post_form
from distfiles import sdist
from distfiles import upload
from distfiles import wheel

from cheesecellar import hookimpl
from cheesecellar.model.indextypes import ConfigKey
from cheesecellar.model.indextypes import IndexType
from cheesecellar.model.indextypes import to_str
from cheesecellar.model.pages import Link
from cheesecellar.testing import start_live_cellar

EMILIE = ("emilie", "emiliepw")
JSON = {"Accept": "application/json"}
PIP_ACCEPT = "application/vnd.pypi.simple.v1+json"
# What the fake mirror holds: project -> versions.
MIRRORED = {
    "shared": ["1.0", "9.0"],
    "mirrored": ["0.5"],
    "clash": ["1.0"],
    "wlname": ["1.0", "9.0"],
    "wlstar": ["2.0"],
    "inherit": ["9.0"],
}


class RecordingReader:
    """Serves MIRRORED like an upstream would, and remembers every name it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def _record(self, method: str, project: str) -> None:
        with self._lock:
            self.calls.append((method, project))

    def asked(self, project: str) -> list[str]:
        with self._lock:
            return [method for method, name in self.calls if name == project]

    def has_project(self, tx, indexname, config, project):
        self._record("has_project", project)
        return project in MIRRORED

    def project_names(self, tx, indexname, config):
        return sorted(MIRRORED)

    def versions(self, tx, indexname, config, project):
        self._record("versions", project)
        return {v: {"name": project, "version": v} for v in MIRRORED.get(project, ())}

    def links(self, tx, indexname, config, project, versions):
        self._record("links", project)
        return [mirror_link(indexname, project, version) for version in versions]


def mirror_link(indexname: str, project: str, version: str) -> Link:
    filename = f"{project}-{version}.tar.gz"
    sha = hashlib.sha256(filename.encode()).hexdigest()
    path = f"{indexname}/+f/{sha[:3]}/{sha[3:16]}/{filename}"
    return Link(filename, path, indexname, version, {"sha256": sha})


class FakeMirrorPlugin:
    def __init__(self) -> None:
        self.reader = RecordingReader()

    @hookimpl
    def cellar_register_index_types(self, registry):
        registry.add(
            IndexType(
                name="fakemirror",
                keys=(ConfigKey("upstream_label", to_str),),
                is_mirror=True,
                accepts_uploads=False,
                reader=self.reader,
            )
        )


@pytest.fixture(scope="module")
def plugin():
    return FakeMirrorPlugin()


@pytest.fixture(scope="module")
def server(tmp_path_factory, plugin):
    """emilie/dev -> emilie/prod -> emilie/base -> root/fake (a fake mirror)."""
    live = start_live_cellar(tmp_path_factory.mktemp("projects_json"), plugins=[plugin])
    with live.session() as session:
        session.login("root", "")
        session.put("/root/fake", json={"type": "fakemirror"}).raise_for_status()
        session.put("/emilie", json={"password": "emiliepw"}).raise_for_status()
        session.login(*EMILIE)
        chain = [("base", "root/fake"), ("prod", "emilie/base"), ("dev", "emilie/prod")]
        for index, bases in chain:
            session.put(f"/emilie/{index}", json={"bases": bases}).raise_for_status()
    yield live
    live.stop()


def put(server, index: str, dist) -> None:
    upload(f"{server.url}/emilie/{index}/", dist, EMILIE).raise_for_status()


def make_index(server, name: str, **config) -> None:
    with server.session() as session:
        session.login(*EMILIE)
        session.put(f"/emilie/{name}", json=config).raise_for_status()


def patch(server, name: str, ops: list[str]) -> None:
    with server.session() as session:
        session.login(*EMILIE)
        session.patch(f"/emilie/{name}", json=ops).raise_for_status()


def page(server, index: str, project: str) -> dict[str, dict]:
    url = f"{server.url}/emilie/{index}/+simple/{project}/"
    reply = requests.get(url, headers={"Accept": PIP_ACCEPT})
    assert reply.status_code == 200, reply.reason
    return {
        item["filename"]: item | {"url": urljoin(url, item["url"])}
        for item in reply.json()["files"]
    }


def project_json(server, index: str, project: str, query: str = "") -> requests.Response:
    return requests.get(f"{server.url}/emilie/{index}/{project}{query}", headers=JSON)


def test_project_json_has_links_and_logs(server):
    dist = wheel("Jsonpkg", "1.0", summary="for json")
    put(server, "dev", dist)
    reply = project_json(server, "dev", "jsonpkg")
    assert reply.status_code == 200
    body = reply.json()
    assert body["type"] == "projectconfig"
    verdata = body["result"]["1.0"]
    assert verdata["name"] == "Jsonpkg"
    assert verdata["summary"] == "for json"
    (link,) = verdata["+links"]
    assert link["rel"] == "releasefile"
    assert link["href"].startswith(server.url + "/emilie/dev/+f/")
    assert link["hash_spec"] == f"sha256={dist.sha256}"
    assert [(e["what"], e["who"], e["dst"]) for e in link["log"]] == [
        ("upload", "emilie", "emilie/dev")
    ]
    assert requests.get(link["href"]).content == dist.content


def test_version_json_and_404_texts(server):
    put(server, "dev", sdist("verpkg", "2.0"))
    reply = requests.get(f"{server.url}/emilie/dev/verpkg/2.0", headers=JSON)
    assert reply.json()["type"] == "versiondata"
    assert reply.json()["result"]["version"] == "2.0"
    missing = requests.get(f"{server.url}/emilie/dev/verpkg/9.9", headers=JSON)
    assert missing.status_code == 404
    assert missing.json()["message"] == "The version 9.9 of project verpkg does not exist."
    unknown = project_json(server, "dev", "nonexist")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "no project 'nonexist'"


def test_doczip_link_in_project_json(server):
    put(server, "dev", sdist("withdocs", "1.0"))
    fields = {":action": "doc_upload", "name": "withdocs", "version": "1.0"}
    content = {"content": ("withdocs-1.0.zip", doczip(), "application/zip")}
    post_form(f"{server.url}/emilie/dev/", fields, EMILIE, content).raise_for_status()
    links = project_json(server, "dev", "withdocs").json()["result"]["1.0"]["+links"]
    assert sorted(link["rel"] for link in links) == ["doczip", "releasefile"]


def test_shadowing_and_ignore_bases(server):
    put(server, "prod", sdist("layered", "1.0", summary="from prod"))
    put(server, "dev", wheel("layered", "1.0", summary="from dev"))
    put(server, "base", sdist("layered", "0.1"))
    result = project_json(server, "dev", "layered").json()["result"]
    assert sorted(result) == ["0.1", "1.0"]
    assert result["1.0"]["summary"] == "from dev"
    (shadow,) = result["1.0"]["+shadowing"]
    assert shadow["summary"] == "from prod"
    assert shadow["+links"][0]["href"].startswith(server.url + "/emilie/prod/+f/")
    assert "+shadowing" not in result["0.1"]
    own = project_json(server, "dev", "layered", "?ignore_bases=").json()["result"]
    assert sorted(own) == ["1.0"]
    assert "+shadowing" not in own["1.0"]
    assert project_json(server, "dev", "jsonpkg", "?ignore_bases").status_code == 200
    assert project_json(server, "dev", "deeponly", "?ignore_bases").status_code == 404


def test_deepest_base_is_visible_in_dev(server):
    put(server, "base", sdist("deeponly", "3.0"))
    files = page(server, "dev", "deeponly")
    (item,) = files.values()
    assert "/emilie/base/+f/" in item["url"]
    assert requests.get(item["url"]).status_code == 200
    names = requests.get(f"{server.url}/emilie/dev/+simple/", headers={"Accept": PIP_ACCEPT})
    assert {"name": "deeponly"} in names.json()["projects"]
    assert project_json(server, "dev", "deeponly").json()["result"]["3.0"]["version"] == "3.0"


def test_first_file_name_wins_and_versions_are_unioned(server):
    in_prod = sdist("twice", "1.0", summary="prod copy")
    in_base = sdist("twice", "1.0", summary="base copy")
    assert in_prod.sha256 != in_base.sha256
    put(server, "prod", in_prod)
    put(server, "base", in_base)
    put(server, "base", sdist("twice", "0.5"))
    put(server, "dev", sdist("twice", "2.0"))
    files = page(server, "dev", "twice")
    assert files[in_prod.filename]["hashes"]["sha256"] == in_prod.sha256
    assert "/emilie/prod/" in files[in_prod.filename]["url"]
    reply = requests.get(f"{server.url}/emilie/dev/+simple/twice/", headers={"Accept": PIP_ACCEPT})
    assert reply.json()["versions"] == ["0.5", "1.0", "2.0"]
    assert sorted(files) == ["twice-0.5.tar.gz", "twice-1.0.tar.gz", "twice-2.0.tar.gz"]


def test_mirror_serves_names_that_are_not_private(server, plugin):
    files = page(server, "dev", "mirrored")
    assert sorted(files) == ["mirrored-0.5.tar.gz"]
    assert "/root/fake/+f/" in files["mirrored-0.5.tar.gz"]["url"]
    assert "has_project" in plugin.reader.asked("mirrored")
    assert "links" in plugin.reader.asked("mirrored")
    result = project_json(server, "dev", "mirrored").json()["result"]
    assert result["0.5"]["name"] == "mirrored"


def test_private_name_hides_the_mirror_and_is_never_asked(server, plugin):
    put(server, "base", sdist("shared", "1.0"))
    put(server, "prod", sdist("clash", "2.0"))
    for index in ("dev", "prod", "base"):
        assert page(server, index, "shared").keys() == {"shared-1.0.tar.gz"}
        assert sorted(project_json(server, index, "shared").json()["result"]) == ["1.0"]
    for index in ("dev", "prod"):
        assert page(server, index, "clash").keys() == {"clash-2.0.tar.gz"}
    assert plugin.reader.asked("shared") == []
    assert plugin.reader.asked("clash") == []
    # Below prod, clash is not private, so the mirror is asked and serves it.
    assert page(server, "base", "clash").keys() == {"clash-1.0.tar.gz"}
    assert "has_project" in plugin.reader.asked("clash")


def test_whitelist_lets_the_mirror_contribute(server, plugin):
    make_index(server, "wl", bases="root/fake")
    private = sdist("wlname", "1.0")
    put(server, "wl", private)
    put(server, "wl", sdist("wlstar", "1.0"))
    assert page(server, "wl", "wlname").keys() == {"wlname-1.0.tar.gz"}
    assert plugin.reader.asked("wlname") == []
    patch(server, "wl", ["mirror_whitelist=WLName"])
    files = page(server, "wl", "wlname")
    assert sorted(files) == ["wlname-1.0.tar.gz", "wlname-9.0.tar.gz"]
    assert files["wlname-1.0.tar.gz"]["hashes"]["sha256"] == private.sha256
    assert "/root/fake/+f/" in files["wlname-9.0.tar.gz"]["url"]
    result = project_json(server, "wl", "wlname").json()["result"]
    assert sorted(result) == ["1.0", "9.0"]
    assert result["1.0"]["+shadowing"][0]["name"] == "wlname"
    assert page(server, "wl", "wlstar").keys() == {"wlstar-1.0.tar.gz"}
    patch(server, "wl", ["mirror_whitelist=*"])
    assert sorted(page(server, "wl", "wlstar")) == ["wlstar-1.0.tar.gz", "wlstar-2.0.tar.gz"]


def test_whitelist_inheritance_intersection_and_union(server, plugin):
    make_index(server, "wlbase", bases="root/fake", mirror_whitelist="inherit")
    make_index(server, "wlinter", bases="emilie/wlbase")
    make_index(server, "wlunion", bases="emilie/wlbase", mirror_whitelist_inheritance="union")
    put(server, "wlbase", sdist("inherit", "1.0"))
    both = ["inherit-1.0.tar.gz", "inherit-9.0.tar.gz"]
    # intersection: the requesting index whitelists nothing, so nothing is whitelisted.
    assert page(server, "wlinter", "inherit").keys() == {"inherit-1.0.tar.gz"}
    assert plugin.reader.asked("inherit") == []
    assert sorted(page(server, "wlunion", "inherit")) == both
    assert sorted(page(server, "wlbase", "inherit")) == both
    patch(server, "wlinter", ["mirror_whitelist=inherit"])
    assert sorted(page(server, "wlinter", "inherit")) == both
