"""``cellar import`` of a real devpi-server export, then a live server on the result."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from tests.upstream.catalog import Catalog
from tests.upstream.fixtures import pip_env
from tests.upstream.fixtures import run_pip

from cheesecellar.auth.passwords import verify_password
from cheesecellar.model import keys
from cheesecellar.testing import start_live_cellar
from cheesecellar_export.devpi import read_devpi_dump

DATA = Path(__file__).parents[1] / "data" / "devpi-export"
PASSWORDS = {"root": "rootpw", "alice": "alicepw", "bob": "bobpw"}
LEGACY_SALT = "c2FsdHlzYWx0eXNhbHR5"
SEARCH_DEADLINE = 30


def cellar_import(serverdir: Path, exportdir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cheesecellar.cli", "import", "--serverdir", str(serverdir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHEESECELLAR_")}
    return subprocess.run(
        [*command, str(exportdir)], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The export with mirrored files, imported and served (offline: its upstream is gone)."""
    serverdir = tmp_path_factory.mktemp("devpi-import") / "server"
    done = cellar_import(serverdir, DATA / "with-mirror")
    assert done.returncode == 0, done.stderr
    assert "imported devpi-server 6.20.3 dump (dumpversion 2)" in done.stdout
    live = start_live_cellar(serverdir, offline_mode=True)
    yield live
    live.stop()


def devpi_links() -> list[tuple[str, str, str, dict]]:
    """``(index, project, version, link)`` for every file devpi-server showed."""
    links = json.loads((DATA / "devpi-links.json").read_text())
    return [
        (index, project, version, link)
        for index, projects in links.items()
        for project, versions in projects.items()
        for version, listed in versions.items()
        for link in listed
    ]


def test_devpi_passwords_log_in(imported):
    for user, password in PASSWORDS.items():
        with imported.session() as session:
            session.login(user, password)
            assert session.get("/+api").json()["result"]["authstatus"][:2] == ["ok", user]
    with imported.session() as session:
        reply = session.post("/+login", json={"user": "alice", "password": "bobpw"})
        assert reply.status_code == 401


def test_every_file_has_devpis_url_and_hash(imported):
    for index, project, version, link in devpi_links():
        reply = requests.get(f"{imported.url}/{link['path']}", timeout=30)
        assert reply.status_code == 200, link
        assert f"sha256={hashlib.sha256(reply.content).hexdigest()}" == link["hash_spec"]
        if index == "root/pypi":
            continue
        shown = requests.get(
            f"{imported.url}/{index}/{project}/{version}",
            headers={"Accept": "application/json"},
            timeout=30,
        ).json()["result"]["+links"]
        assert f"{imported.url}/{link['path']}" in [item["href"] for item in shown]


def test_pip_installs_from_the_imported_private_index(imported, tmp_path):
    target = tmp_path / "site"
    index_url = f"{imported.url}/alice/dev/+simple/"
    result = run_pip(
        ["install", "--target", str(target), "--index-url", index_url, "hello-world==1.1"],
        pip_env(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "hello_world" / "__init__.py").exists()
    assert (target / "idna" / "__init__.py").exists()  # from root/pypi's cache


def test_docs_and_tox_results_are_shown(imported):
    page = requests.get(f"{imported.url}/alice/dev/hello-world/1.0/+doc/index.html", timeout=30)
    assert page.status_code == 200 and "greeting documentation" in page.text
    version = requests.get(
        f"{imported.url}/alice/dev/hello-world/1.0", headers={"Accept": "text/html"}, timeout=30
    )
    assert "Tox results" in version.text
    assert "ci-worker-1" in version.text and "py311" in version.text


def test_index_configurations_survived(imported):
    def config(name: str) -> dict:
        reply = requests.get(f"{imported.url}/{name}", headers={"Accept": "application/json"})
        return reply.json()["result"]

    dev = config("alice/dev")
    assert dev["bases"] == ["alice/prod", "root/pypi"]
    assert dev["acl_upload"] == ["alice", "bob"]
    assert dev["acl_toxresult_upload"] == ["alice", ":AUTHENTICATED:"]
    assert dev["mirror_whitelist"] == ["hello-world"]
    assert dev["mirror_whitelist_inheritance"] == "union"
    assert dev["uploadtrigger_jenkins"] == "http://127.0.0.1:9/jenkins/job/{pkgname}/build"
    prod = config("alice/prod")
    assert prod["volatile"] is False and prod["title"] == "Alice's releases"
    assert "uploadtrigger_jenkins" not in prod
    assert config("root/pypi")["mirror_cache_expiry"] == 600


def test_the_search_finds_the_project(imported):
    deadline = time.monotonic() + SEARCH_DEADLINE
    while True:
        reply = requests.get(
            f"{imported.url}/+search",
            params={"query": "hello"},
            headers={"Accept": "application/json"},
            timeout=30,
        )
        paths = {hit["path"] for hit in reply.json()["result"]["hits"]}
        if "/alice/dev/hello-world/1.1" in paths or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "/alice/dev/hello-world/1.1" in paths


def test_the_imported_server_exports_what_the_reader_made_of_the_dump(imported, tmp_path):
    command = [sys.executable, "-m", "cheesecellar.cli", "export", "--include-mirrored-files"]
    command += ["--serverdir", str(imported.serverdir), str(tmp_path / "export")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    exported = json.loads((tmp_path / "export" / "cellar-export.json").read_text())
    read = read_devpi_dump(DATA / "with-mirror", tmp_path / "work").document
    for key in ("users", "indexes", "blobs"):
        assert exported[key] == read[key], key


def test_an_export_without_mirrored_files(tmp_path):
    done = cellar_import(tmp_path / "server", DATA / "without-mirror")
    assert done.returncode == 0, done.stderr
    # 7 files of alice/dev, 5 of alice/prod (wheels' .metadata included); none of root/pypi
    assert "3 users, 4 indexes, 2 projects, 3 versions, 12 files" in done.stdout
    live = start_live_cellar(tmp_path / "server", offline_mode=True)
    try:
        mirrored = [link for index, _p, _v, link in devpi_links() if index == "root/pypi"]
        for link in mirrored:
            assert requests.get(f"{live.url}/{link['path']}", timeout=30).status_code == 404
        reply = requests.get(f"{live.url}/root/pypi", headers={"Accept": "application/json"})
        assert reply.json()["result"]["type"] == "mirror"
    finally:
        live.stop()


def test_cached_mirror_files_stay_cached_when_upstream_answers_again(tmp_path, make_upstream):
    """The imported page lists only the cached file; upstream's page replaces it, and the
    file keeps its path (upstream names the same sha256), so it is not fetched again."""
    catalog = Catalog()
    catalog.add("idna", "3.7", requires_python=">=3.5")  # the very file devpi had cached
    catalog.add("idna", "3.8", requires_python=">=3.6")
    upstream = make_upstream(catalog)
    assert cellar_import(tmp_path / "server", DATA / "with-mirror").returncode == 0
    live = start_live_cellar(tmp_path / "server")
    try:
        with live.session() as root:
            root.login("root", PASSWORDS["root"])
            reply = root.patch("/root/pypi", json={"mirror_url": upstream.index_url})
            assert reply.status_code == 200, reply.text
        page = requests.get(f"{live.url}/root/pypi/+simple/idna/", timeout=30).text
        assert "idna-3.8-py3-none-any.whl" in page
        for index, _project, _version, link in devpi_links():
            if index == "root/pypi":
                assert link["path"].removeprefix("root/pypi/") in page
                reply = requests.get(f"{live.url}/{link['path']}", timeout=30)
                assert f"sha256={hashlib.sha256(reply.content).hexdigest()}" == link["hash_spec"]
        assert upstream.count("/files/") == 0
    finally:
        live.stop()


def test_a_pre_4_2_devpi_password_works_and_becomes_argon2(tmp_path):
    exportdir = tmp_path / "export"
    shutil.copytree(DATA / "without-mirror", exportdir)
    data = json.loads((exportdir / "dataindex.json").read_text())
    digest = hashlib.sha256(f"{LEGACY_SALT}oldpw".encode()).hexdigest()
    data["users"]["old"] = {"username": "old", "pwsalt": LEGACY_SALT, "pwhash": digest}
    (exportdir / "dataindex.json").write_text(json.dumps(data))
    assert cellar_import(tmp_path / "server", exportdir).returncode == 0
    live = start_live_cellar(tmp_path / "server", offline_mode=True)
    try:
        auth = ("old", "oldpw")
        assert requests.get(f"{live.url}/+api", auth=auth).json()["result"]["authstatus"][0] == "ok"
        with live.session() as session:
            session.login("old", "oldpw")
        with live.storage.transaction() as tx:
            pwhash = tx.get(keys.user("old"))["pwhash"]
        assert pwhash.startswith("$argon2id$") and verify_password(pwhash, "oldpw")
        with live.session() as session:
            session.login("old", "oldpw")
    finally:
        live.stop()


def test_a_damaged_export_leaves_no_server_directory(tmp_path):
    exportdir = tmp_path / "export"
    shutil.copytree(DATA / "with-mirror", exportdir)
    damaged = exportdir / "alice/dev/hello-world/1.1/Hello_World-1.1-py3-none-any.whl"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    done = cellar_import(tmp_path / "server", exportdir)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("cellar import: error: alice/dev/hello-world/1.1/Hello_World-1.1")
    assert "sha256 is" in line
    assert not (tmp_path / "server").exists()


def test_an_unknown_dumpversion_is_refused(tmp_path):
    exportdir = tmp_path / "export"
    shutil.copytree(DATA / "without-mirror", exportdir)
    data = json.loads((exportdir / "dataindex.json").read_text())
    data["dumpversion"] = "3"
    (exportdir / "dataindex.json").write_text(json.dumps(data))
    done = cellar_import(tmp_path / "server", exportdir)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "cellar import: error: unknown devpi dumpversion '3'; cheesecellar reads devpi dumps "
        "of dumpversion 1 and 2"
    )
