"""``cellar export`` of a running server, ``cellar import`` into a new one, and back again."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import requests
from distfiles import doczip
from distfiles import post_form
from distfiles import sdist
from distfiles import upload
from distfiles import wheel

from cheesecellar import hookimpl
from cheesecellar.cli import main
from cheesecellar.testing import start_live_cellar

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
ALICE = ("alice", "alicepw")
BOB = ("bob", "bobpw")
TOX_RESULT = {
    "reportversion": "1",
    "toxversion": "4.0",
    "platform": "linux",
    "host": "ci",
    "testenvs": {},
}
DOCS = {"index.html": b"<h1>Hello World docs</h1>"}
#: What each index holds after :func:`fill`: index -> {project: versions}.
RELEASES = {
    "alice/dev": {"hello-world": ["1.0", "1.1"]},
    "alice/prod": {"stable-tool": ["2.0"]},
}


class ExportTestKeys:
    """A plugin key on stage indexes, as third-party plugins add them."""

    @hookimpl
    def cellar_indexconfig_defaults(self, index_type):
        return {"exporttest_channel": ""} if index_type == "stage" else None


class CommitRecorder:
    """Records the serials the event hooks are called for."""

    def __init__(self) -> None:
        self.serials: list[int] = []

    @hookimpl
    def cellar_on_commit(self, serial, changes):
        self.serials.append(serial)


def start(serverdir: Path, *plugins, **settings):
    return start_live_cellar(serverdir, plugins=[ExportTestKeys(), *plugins], **settings)


def cellar(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def ok(reply: requests.Response) -> requests.Response:
    assert reply.status_code < 300, reply.text
    return reply


def fill(live, upstream) -> None:
    """Users, indexes and releases made through HTTP, as people and tools make them."""
    with live.session() as api:
        api.login("root", "")
        ok(api.put("/alice", json={"password": "alicepw", "email": "alice@example.com"}))
        ok(api.put("/bob", json={"password": "bobpw"}))
        mirror = {"type": "mirror", "mirror_url": upstream.index_url, "title": "Upstream"}
        ok(api.put("/root/up", json=mirror))
        ok(api.patch("/root", json={"password": "rootpw"}))
        api.login(*ALICE)
        ok(api.put("/alice/prod", json={"volatile": False, "title": "Production"}))
        dev = {"bases": ["alice/prod", "root/up"], "acl_upload": ["alice", "bob"]}
        ok(api.put("/alice/dev", json={**dev, "title": "Dev", "exporttest_channel": "#builds"}))
    for version in ("1.0", "1.1"):
        for dist in (wheel("Hello.World", version), sdist("Hello.World", version)):
            ok(upload(f"{live.url}/alice/dev/", dist, BOB if version == "1.1" else ALICE))
    ok(upload(f"{live.url}/alice/prod/", wheel("stable_tool", "2.0"), ALICE))
    fields = {":action": "doc_upload", "name": "Hello.World", "version": "1.0"}
    files = {"content": ("hello-world-1.0.doc.zip", doczip(DOCS), "application/zip")}
    ok(post_form(f"{live.url}/alice/dev/", fields, ALICE, files=files))
    wheel_url = release_links(live, "alice/dev", "hello-world", "1.0")[
        "Hello_World-1.0-py3-none-any.whl"
    ]
    body = json.dumps(TOX_RESULT).encode()
    ok(requests.post(wheel_url, data=body, headers={"Content-Type": "application/json"}))
    with live.session() as api:
        api.login(*ALICE)
        ok(api.patch("/alice/dev/hello-world/1.1", json={"yanked": True, "yanked_reason": "bad"}))
    # One file of the mirror is fetched, and so cached.
    idna = simple_files(live, "root/up", "idna")[0]
    ok(requests.get(idna["url"], timeout=30))


def release_links(live, index: str, project: str, version: str) -> dict[str, str]:
    reply = ok(
        requests.get(
            f"{live.url}/{index}/{project}/{version}", headers={"Accept": "application/json"}
        )
    )
    return {
        link["href"].rsplit("/", 1)[1]: link["href"] for link in reply.json()["result"]["+links"]
    }


def simple_files(live, index: str, project: str) -> list[dict]:
    page_url = f"{live.url}/{index}/+simple/{project}/"
    reply = ok(requests.get(page_url, headers={"Accept": SIMPLE_JSON}, timeout=30))
    files = reply.json()["files"]
    for entry in files:
        entry["url"] = urljoin(page_url, entry["url"])
    return files


def without_host(value):
    """``value`` with every URL of a server cut down to its path."""
    if isinstance(value, dict):
        return {key: without_host(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_host(item) for item in value]
    if isinstance(value, str) and value.startswith("http://127.0.0.1"):
        return urlsplit(value).path
    return value


def project_json(live, index: str, project: str) -> dict:
    reply = ok(
        requests.get(f"{live.url}/{index}/{project}", headers={"Accept": "application/json"})
    )
    return without_host(reply.json()["result"])


def login_works(live, user: str, password: str) -> bool:
    with live.session() as api:
        return api.post("/+login", json={"user": user, "password": password}).status_code == 200


def wait_for_search(live, query: str, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        reply = requests.get(
            f"{live.url}/+search", params={"query": query}, headers={"Accept": "application/json"}
        )
        hits = reply.json()["result"]["hits"] if reply.status_code == 200 else []
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.1)


def document(exportdir: Path) -> dict:
    data = json.loads((exportdir / "cellar-export.json").read_text())
    for key in ("exported_at", "exported_by", "source"):
        data.pop(key)
    return data


@pytest.fixture(scope="module")
def source(tmp_path_factory, make_upstream_module):
    upstream = make_upstream_module()
    live = start(tmp_path_factory.mktemp("export-source") / "server", extra={"no_root_pypi": True})
    fill(live, upstream)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def make_upstream_module():
    from tests.upstream.catalog import seed_catalog
    from tests.upstream.server import UpstreamServer

    started = []

    def factory():
        server = UpstreamServer(seed_catalog()).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def exports(source, tmp_path_factory) -> dict[str, Path]:
    """Exports of the running source server: plain, and with mirrored files and hard links."""
    base = tmp_path_factory.mktemp("exports")
    made = {"plain": base / "plain", "full": base / "full"}
    assert main(["export", "--serverdir", str(source.serverdir), str(made["plain"])]) == 0
    argv = ["export", "--serverdir", str(source.serverdir), "--include-mirrored-files"]
    assert main([*argv, "--hard-links", str(made["full"])]) == 0
    return made


@pytest.fixture(scope="module")
def copy(exports, tmp_path_factory):
    """A server on the import of the full export, offline: the mirror's cache must do."""
    serverdir = tmp_path_factory.mktemp("export-copy") / "server"
    assert main(["import", "--serverdir", str(serverdir), str(exports["full"])]) == 0
    live = start(serverdir, offline_mode=True)
    yield live
    live.stop()


def test_export_summary_names_what_was_written(source, tmp_path, capsys):
    code, out, err = cellar(capsys, "export", "--serverdir", source.serverdir, tmp_path / "dump")
    assert code == 0, err
    assert "3 users, 3 indexes, 2 projects, 3 versions" in out
    assert sorted(p.name for p in (tmp_path / "dump").iterdir()) == ["cellar-export.json", "files"]
    assert [p.name for p in tmp_path.iterdir()] == ["dump"]  # no staging directory left


def test_passwords_still_work(copy):
    assert login_works(copy, "alice", "alicepw")
    assert login_works(copy, "bob", "bobpw")
    assert login_works(copy, "root", "rootpw")
    assert not login_works(copy, "alice", "wrong")


def test_indexes_keep_their_configuration(source, copy):
    for index in ("alice/dev", "alice/prod", "root/up"):
        reply = requests.get(f"{copy.url}/{index}", headers={"Accept": "application/json"})
        expected = requests.get(f"{source.url}/{index}", headers={"Accept": "application/json"})
        assert reply.json()["result"] == expected.json()["result"]
    config = requests.get(f"{copy.url}/alice/dev", headers={"Accept": "application/json"}).json()
    assert config["result"]["exporttest_channel"] == "#builds"
    assert config["result"]["bases"] == ["alice/prod", "root/up"]


def test_every_release_keeps_metadata_files_and_urls(source, copy):
    for index, projects in RELEASES.items():
        for project in projects:
            assert project_json(copy, index, project) == project_json(source, index, project)
            before = without_host(simple_files(source, index, project))
            assert without_host(simple_files(copy, index, project)) == before
            for entry in simple_files(copy, index, project):
                content = ok(requests.get(entry["url"], timeout=30)).content
                assert hashlib.sha256(content).hexdigest() == entry["hashes"]["sha256"]


def test_yank_tox_result_and_docs_come_along(copy):
    versions = project_json(copy, "alice/dev", "hello-world")
    assert versions["1.1"]["yanked"] is True
    rels = [link["rel"] for link in versions["1.0"]["+links"]]
    assert sorted(rels) == ["doczip", "releasefile", "releasefile", "toxresult"]
    tox = next(link for link in versions["1.0"]["+links"] if link["rel"] == "toxresult")
    assert ok(requests.get(copy.url + tox["href"])).json()["host"] == "ci"
    docs = requests.get(f"{copy.url}/alice/dev/hello-world/1.0/+doc/index.html")
    assert docs.status_code == 200
    assert docs.content == DOCS["index.html"]


def test_cached_mirror_files_are_served_without_upstream(source, copy):
    idna = simple_files(source, "root/up", "idna")[0]
    path = urlsplit(idna["url"]).path
    content = ok(requests.get(copy.url + path, timeout=30)).content
    assert content == ok(requests.get(source.url + path, timeout=30)).content


def test_search_finds_an_imported_project(copy):
    hits = wait_for_search(copy, "hello")
    assert any(hit["project"] == "hello-world" for hit in hits)


def test_export_of_the_import_gives_the_same_document(exports, copy, tmp_path):
    again = tmp_path / "again"
    assert (
        main(["export", "--serverdir", str(copy.serverdir), "--include-mirrored-files", str(again)])
        == 0
    )
    assert document(again) == document(exports["full"])
    for relpath in document(again)["blobs"]:
        assert (again / "files" / relpath).read_bytes() == (
            exports["full"] / "files" / relpath
        ).read_bytes()


def test_hard_links_share_the_servers_files(source, exports):
    relpath = next(path for path in document(exports["full"])["blobs"] if path.endswith(".whl"))
    exported = exports["full"] / "files" / relpath
    assert exported.stat().st_ino == (source.serverdir / "+files" / relpath).stat().st_ino
    assert (exports["plain"] / "files" / relpath).stat().st_nlink == 1


def test_plain_export_leaves_the_mirror_cache_out_and_old_uploads_trigger_nothing(
    exports, tmp_path
):
    plain = document(exports["plain"])
    assert plain["include_mirrored_files"] is False
    assert "mirror" not in plain["indexes"]["root/up"]
    assert not any(path.startswith("root/up/") for path in plain["blobs"])
    serverdir = tmp_path / "server"
    assert main(["import", "--serverdir", str(serverdir), str(exports["plain"])]) == 0
    recorder = CommitRecorder()
    live = start(serverdir, recorder, offline_mode=True)
    try:
        config = requests.get(f"{live.url}/root/up", headers={"Accept": "application/json"})
        assert config.json()["result"]["type"] == "mirror"
        imported_serial = live.storage.last_serial()
        ok(upload(f"{live.url}/alice/dev/", wheel("after-import", "1.0"), ALICE))
        deadline = time.monotonic() + 10
        while imported_serial + 1 not in recorder.serials and time.monotonic() < deadline:
            time.sleep(0.05)
        # The event hooks (upload triggers, webhooks) see the new upload, no imported one.
        assert recorder.serials == [imported_serial + 1]
    finally:
        live.stop()


def test_import_into_an_empty_directory_keeps_its_secret(exports, tmp_path, capsys):
    serverdir = tmp_path / "volume"
    serverdir.mkdir()
    (serverdir / ".secret").write_bytes(b"s" * 40)
    code, out, err = cellar(capsys, "import", "--serverdir", serverdir, exports["plain"])
    assert code == 0, err
    assert "imported cheesecellar export v1" in out
    names = {path.name for path in serverdir.iterdir()}
    assert names == {".lock", ".nodeinfo", ".secret", ".serverversion", "+files", "cellar.sqlite"}
    assert (serverdir / ".secret").read_bytes() == b"s" * 40


def test_a_dump_without_root_gets_one_with_an_empty_password(exports, tmp_path, capsys):
    dump = tmp_path / "dump"
    shutil.copytree(exports["plain"], dump)
    data = json.loads((dump / "cellar-export.json").read_text())
    del data["users"]["root"]
    (dump / "cellar-export.json").write_text(json.dumps(data))
    code, _out, err = cellar(capsys, "import", "--serverdir", tmp_path / "server", dump)
    assert code == 0, err
    assert "the dump has no user 'root': created it with an empty password" in err
    live = start(tmp_path / "server")
    try:
        assert login_works(live, "root", "")
        assert login_works(live, "alice", "alicepw")
        status = requests.get(f"{live.url}/root/up", headers={"Accept": "application/json"})
        assert status.json()["result"]["type"] == "mirror"
    finally:
        live.stop()
