"""Docs hosting: uploaded doc zips unpacked safely and served under a version's ``+doc/``."""

from __future__ import annotations

import hashlib
import http.client
import io
import itertools
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from clientkit import CellarCLI
from clientkit import ClientEnv
from distfiles import doczip
from distfiles import post_form
from distfiles import upload
from distfiles import wheel
from mirrorkit import wait_for
from webkit import BROWSER_HEADERS
from webkit import browser_get

from cheesecellar.model import releases
from cheesecellar_web.docviews import locate

DORA = ("dora", "dorapw")
JSON = {"Accept": "application/json"}
POLICY = "sandbox allow-scripts allow-forms allow-popups"
_numbers = itertools.count()

SITE = {
    "index.html": b'<h1>Front page</h1><link rel="stylesheet" href="_static/site.css">',
    "sub/index.html": b"<h1>Sub index</h1>",
    "sub/page.html": b"<p>A nested page</p>",
    "_static/site.css": b"body { color: black; }",
    "_static/app.js": b"console.log('docs');",
    "_static/logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg"></svg>',
    "objects.inv": b"# Sphinx inventory",
}


@pytest.fixture(scope="module")
def site(server):
    """dora with dora/dev (volatile) and dora/child (bases dora/dev)."""
    with server.session() as session:
        session.put(f"/{DORA[0]}", json={"password": DORA[1]}).raise_for_status()
        session.login(*DORA)
        session.put("/dora/dev", json={}).raise_for_status()
        session.put("/dora/child", json={"bases": ["dora/dev"]}).raise_for_status()
    return server


def new_project() -> str:
    return f"docproj{next(_numbers)}"


def upload_docs(live, project: str, version: str, data: bytes, index: str = "dora/dev"):
    fields = {":action": "doc_upload", "name": project, "version": version}
    files = {"content": (f"{project}-{version}.doc.zip", data, "application/zip")}
    return post_form(f"{live.url}/{index}/", fields, DORA, files)


def docs_url(live, project: str, version: str, path: str = "", index: str = "dora/dev") -> str:
    return f"{live.url}/{index}/{project}/{version}/+doc{path}"


def docs_dir(live, project: str, version: str, index: str = "dora/dev") -> Path:
    return live.serverdir.joinpath("+docs", *index.split("/"), project, version)


def stored_zip(live, index: str, project: str, version: str, data: bytes) -> None:
    """Store a doc zip through the storage API, as a push or an import could, unchecked."""
    with live.storage.transaction(write=True) as tx:
        releases.add_file(
            tx, index, project, version, f"{project}-{version}.doc.zip", io.BytesIO(data),
            hashlib.sha256(data).hexdigest(), who="test", volatile=True, filetype="doczip",
        )  # fmt: skip


def raw_get(live, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written: no client normalises ``..`` or ``%2e``."""
    where = urlsplit(live.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.putheader("Accept", BROWSER_HEADERS["Accept"])
        connection.endheaders()
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


# --- serving ---------------------------------------------------------------------------------


def test_pages_styles_and_scripts_are_served_with_their_types(site):
    project = new_project()
    assert upload_docs(site, project, "1.0", doczip(SITE)).status_code == 200

    front = browser_get(docs_url(site, project, "1.0", "/"))
    assert front.status_code == 200
    assert front.content == SITE["index.html"]
    assert front.headers["Content-Type"] == "text/html; charset=utf-8"
    assert front.headers["Content-Security-Policy"] == POLICY
    assert front.headers["X-Content-Type-Options"] == "nosniff"
    assert front.headers["Cache-Control"] == "max-age=60"
    types = {
        "/_static/site.css": "text/css; charset=utf-8",
        "/_static/app.js": "text/javascript; charset=utf-8",
        "/_static/logo.svg": "image/svg+xml",  # WebOb adds a charset to XML types
        "/objects.inv": "application/octet-stream",
        "/sub/page.html": "text/html; charset=utf-8",
    }
    for path, content_type in types.items():
        reply = requests.get(docs_url(site, project, "1.0", path))
        assert reply.status_code == 200, path
        assert reply.headers["Content-Type"].split(";")[0] == content_type.split(";")[0], path
        assert reply.headers["Content-Type"].lower().startswith(content_type.lower()), path
        assert reply.content == SITE[path[1:]]
        assert reply.headers["Content-Security-Policy"] == POLICY


def test_directories_serve_their_index_after_a_slash(site):
    project = new_project()
    upload_docs(site, project, "1.0", doczip(SITE)).raise_for_status()
    bare = requests.get(docs_url(site, project, "1.0"), allow_redirects=False)
    assert bare.status_code == 302
    assert bare.headers["Location"] == docs_url(site, project, "1.0", "/")
    sub = requests.get(docs_url(site, project, "1.0", "/sub"), allow_redirects=False)
    assert sub.status_code == 302
    assert sub.headers["Location"] == docs_url(site, project, "1.0", "/sub/")
    assert requests.get(docs_url(site, project, "1.0", "/sub/")).content == SITE["sub/index.html"]


def test_etag_answers_not_modified(site):
    project = new_project()
    data = doczip(SITE)
    upload_docs(site, project, "1.0", data).raise_for_status()
    first = requests.get(docs_url(site, project, "1.0", "/"))
    assert hashlib.sha256(data).hexdigest().startswith(first.headers["ETag"].strip('"'))
    again = requests.get(
        docs_url(site, project, "1.0", "/"), headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


def test_missing_files_and_versions_are_404_with_a_message(site):
    project = new_project()
    upload(f"{site.url}/dora/dev/", wheel(project, "1.0"), DORA).raise_for_status()
    upload_docs(site, project, "2.0", doczip(SITE)).raise_for_status()
    missing = requests.get(docs_url(site, project, "2.0", "/nope.html"), headers=JSON)
    assert missing.status_code == 404
    assert "no file 'nope.html'" in missing.json()["message"]
    no_docs = requests.get(docs_url(site, project, "1.0", "/"), headers=JSON)
    assert no_docs.status_code == 404
    assert f"no documentation for {project} 1.0" in no_docs.json()["message"]
    assert requests.get(docs_url(site, "no-such-project", "1.0", "/")).status_code == 404
    assert requests.get(f"{site.url}/dora/nope/{project}/2.0/+doc/").status_code == 404


def test_unpacked_once_under_the_server_directory(site):
    project = new_project()
    data = doczip(SITE)
    upload_docs(site, project, "1.0", data).raise_for_status()
    assert not docs_dir(site, project, "1.0").exists()  # unpacked on first use
    requests.get(docs_url(site, project, "1.0", "/")).raise_for_status()
    tree = docs_dir(site, project, "1.0") / hashlib.sha256(data).hexdigest()
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()) == sorted(
        SITE
    )
    assert [p.name for p in docs_dir(site, project, "1.0").iterdir()] == [tree.name]


def test_latest_and_stable_name_the_newest_versions_with_docs(site):
    project = new_project()
    upload_docs(site, project, "1.0", doczip({"index.html": b"one"})).raise_for_status()
    upload_docs(site, project, "2.0b1", doczip({"index.html": b"two beta"})).raise_for_status()
    upload(f"{site.url}/dora/dev/", wheel(project, "3.0"), DORA).raise_for_status()  # no docs
    assert requests.get(docs_url(site, project, "latest", "/")).content == b"two beta"
    assert requests.get(docs_url(site, project, "stable", "/")).content == b"one"


def test_an_index_serves_the_docs_of_its_bases(site):
    project = new_project()
    upload_docs(site, project, "1.0", doczip({"index.html": b"inherited"})).raise_for_status()
    url = docs_url(site, project, "1.0", "/", index="dora/child")
    assert requests.get(url).content == b"inherited"


def test_framed_docs_page_links_back_to_the_version(site):
    project = new_project()
    upload_docs(site, project, "1.0", doczip(SITE)).raise_for_status()
    page = browser_get(f"{site.url}/dora/dev/{project}/1.0/+d/sub/page.html")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert f'src="{docs_url(site, project, "1.0", "/sub/page.html")}"' in page.text
    assert f'href="{site.url}/dora/dev/{project}/1.0"' in page.text
    assert 'sandbox="allow-scripts' in page.text


# --- a replaced zip, removal -------------------------------------------------------------------


def test_a_replaced_zip_serves_the_new_content(site):
    project = new_project()
    upload_docs(site, project, "1.0", doczip({"index.html": b"old"})).raise_for_status()
    assert requests.get(docs_url(site, project, "1.0", "/")).content == b"old"
    new = doczip({"index.html": b"new", "extra.html": b"more"})
    upload_docs(site, project, "1.0", new).raise_for_status()
    assert requests.get(docs_url(site, project, "1.0", "/")).content == b"new"
    assert requests.get(docs_url(site, project, "1.0", "/extra.html")).content == b"more"
    trees = lambda: [p.name for p in docs_dir(site, project, "1.0").iterdir()]  # noqa: E731
    wait_for(lambda: trees() == [hashlib.sha256(new).hexdigest()])


def test_deleting_the_version_removes_the_unpacked_tree(site):
    project = new_project()
    upload_docs(site, project, "1.0", doczip(SITE)).raise_for_status()
    upload_docs(site, project, "2.0", doczip(SITE)).raise_for_status()
    for version in ("1.0", "2.0"):
        requests.get(docs_url(site, project, version, "/")).raise_for_status()
    assert docs_dir(site, project, "1.0").is_dir()
    with site.session() as session:
        session.login(*DORA)
        session.delete(f"/dora/dev/{project}/1.0").raise_for_status()
    wait_for(lambda: not docs_dir(site, project, "1.0").exists())
    assert docs_dir(site, project, "2.0").is_dir()
    assert requests.get(docs_url(site, project, "1.0", "/")).status_code == 404
    with site.session() as session:
        session.login(*DORA)
        session.delete(f"/dora/dev/{project}").raise_for_status()
    wait_for(lambda: not docs_dir(site, project, "2.0").parent.exists())


def test_deleting_an_index_removes_its_trees(site):
    with site.session() as session:
        session.login(*DORA)
        session.put("/dora/gone", json={}).raise_for_status()
    project = new_project()
    upload_docs(site, project, "1.0", doczip(SITE), index="dora/gone").raise_for_status()
    requests.get(docs_url(site, project, "1.0", "/", index="dora/gone")).raise_for_status()
    assert (site.serverdir / "+docs" / "dora" / "gone").is_dir()
    with site.session() as session:
        session.login(*DORA)
        session.delete("/dora/gone").raise_for_status()
    wait_for(lambda: not (site.serverdir / "+docs" / "dora" / "gone").exists())


# --- real clients ------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    return CellarCLI(ClientEnv(tmp_path), capsys, monkeypatch)


def html_dir(base: Path, text: str) -> Path:
    html = base / "html"
    (html / "guide").mkdir(parents=True)
    (html / "index.html").write_text(f"<h1>{text}</h1>")
    (html / "guide" / "index.html").write_text("<h1>Guide</h1>")
    return html


def test_cellar_upload_only_docs_and_with_docs(site, cli, tmp_path, monkeypatch):
    project = new_project()
    cli.ok("use", f"{site.url}/dora/dev")
    cli.ok("login", DORA[0], "--password", DORA[1])
    source = tmp_path / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text(f'[project]\nname = "{project}"\nversion = "1.0"\n')
    monkeypatch.chdir(source)
    html = html_dir(tmp_path, "cellar only-docs")
    shown = cli.ok("upload", "--only-docs", "--docs-zip", str(html))
    assert f"{project}-1.0.doc.zip" in shown.out
    assert requests.get(docs_url(site, project, "1.0", "/")).text == "<h1>cellar only-docs</h1>"
    assert requests.get(docs_url(site, project, "1.0", "/guide/")).text == "<h1>Guide</h1>"

    wheel_file = tmp_path / f"{project}-2.0-py3-none-any.whl"
    wheel_file.write_bytes(wheel(project, "2.0").content)
    other = html_dir(tmp_path / "two", "with docs 2.0")
    cli.ok("upload", "--with-docs", "--docs-zip", str(other), str(wheel_file))
    assert requests.get(docs_url(site, project, "2.0", "/")).text == "<h1>with docs 2.0</h1>"


def test_devpi_client_uploads_a_doc_zip(site, tmp_path):
    project = new_project()
    home = tmp_path / "home"
    home.mkdir()
    zipped = tmp_path / f"{project}-1.0.doc.zip"
    zipped.write_bytes(doczip({"index.html": b"<h1>from devpi</h1>"}))
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "PATH": "/usr/bin:/bin"}
    for args in (
        ("use", f"{site.url}/dora/dev"),
        ("login", DORA[0], "--password", DORA[1]),
        ("upload", str(zipped)),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "devpi", "--clientdir", str(tmp_path / "client"), *args],
            env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    assert requests.get(docs_url(site, project, "1.0", "/")).content == b"<h1>from devpi</h1>"


# --- hostile zips ------------------------------------------------------------------------------


def zip_of(*members: tuple[zipfile.ZipInfo | str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for info, data in members:
            archive.writestr(info, data)
    return buffer.getvalue()


def symlink_member(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


HOSTILE = {
    "dotdot": (
        zip_of(("index.html", b"ok"), ("../../escaped-dotdot.html", b"evil")),
        "outside the documentation",
    ),
    "absolute": (
        zip_of(("index.html", b"ok"), ("/escaped-absolute.html", b"evil")),
        "outside the documentation",
    ),
    "symlink": (
        zip_of(("index.html", b"ok"), symlink_member("passwd.html", "/etc/passwd")),
        "symbolic link",
    ),
    "bomb": (
        zip_of(
            ("index.html", b"ok"),
            ("bomb.html", bytes(8 * 1024 * 1024)),
            method=zipfile.ZIP_DEFLATED,
        ),
        "zip bomb",
    ),
    "too many files": (
        zip_of(*[(f"p{n}.html", b"") for n in range(20_001)]),
        "at most 20000",
    ),
    "not a zip": (b"<html>not a zip</html>", "must be a zip"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_zips_are_refused_at_upload(site, kind):
    data, message = HOSTILE[kind]
    project = new_project()
    reply = upload_docs(site, project, "1.0", data)
    assert reply.status_code == 400
    assert message in reply.reason + reply.text
    assert requests.get(f"{site.url}/dora/dev/{project}/1.0", headers=JSON).status_code == 404


@pytest.mark.parametrize("kind", [k for k in HOSTILE if k != "not a zip"] + ["clash"])
def test_stored_hostile_zips_are_never_unpacked(site, kind):
    if kind == "clash":  # a file and a directory of the same name
        data, message = zip_of(("index.html", b"ok"), ("a", b"file"), ("a/b.html", b"x")), "clash"
    else:
        data, message = HOSTILE[kind]
    project = new_project()
    stored_zip(site, "dora/dev", project, "1.0", data)
    reply = requests.get(docs_url(site, project, "1.0", "/"), headers=JSON)
    assert reply.status_code == 404
    assert "cannot be shown" in reply.json()["message"]
    assert message in reply.json()["message"]
    version_dir = docs_dir(site, project, "1.0")
    assert not version_dir.exists() or list(version_dir.iterdir()) == []
    assert escaped_files(site.serverdir) == []
    assert not Path("/escaped-absolute.html").exists()


def escaped_files(root: Path) -> list[str]:
    """Files named ``escaped-*`` anywhere under root; os.walk tolerates directories that the
    server's docs janitor prunes while the walk goes on (``rglob`` raises on them)."""
    return [
        os.path.join(here, name)
        for here, _dirs, names in os.walk(root)
        for name in names
        if name.startswith("escaped-")
    ]


def test_a_stored_non_zip_is_not_served(site):
    project = new_project()
    stored_zip(site, "dora/dev", project, "1.0", b"not a zip at all")
    reply = requests.get(docs_url(site, project, "1.0", "/"), headers=JSON)
    assert reply.status_code == 404
    assert "not a valid zip" in reply.json()["message"]


# --- hostile URLs ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret(site) -> bytes:
    """A file next to the docs directory that no docs URL may reach."""
    content = b"server secret, never served"
    (site.serverdir / "secret.txt").write_bytes(content)
    (site.serverdir / "+docs").mkdir(exist_ok=True)
    (site.serverdir / "+docs" / "secret.txt").write_bytes(content)
    return content


TRAVERSALS = [
    "/../../../../secret.txt",
    "/../../../../../secret.txt",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/secret.txt",
    "/..%2f..%2f..%2f..%2fsecret.txt",
    "/..%5c..%5c..%5c..%5csecret.txt",
    "/index.html%00.css",
    "/%00",
    "//etc/passwd",
    "/./index.html",
    "/sub/../../../../../secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_paths_never_leave_the_docs(site, secret, path):
    project = "traversal"
    if not docs_dir(site, project, "1.0").exists():
        upload_docs(site, project, "1.0", doczip(SITE)).raise_for_status()
        requests.get(docs_url(site, project, "1.0", "/")).raise_for_status()
    status, body = raw_get(site, f"/dora/dev/{project}/1.0/+doc{path}")
    assert status in (400, 404), (status, body[:200])
    assert secret not in body
    assert b"root:" not in body


def test_a_link_planted_in_a_tree_is_not_followed(tmp_path):
    """Unpacking never makes links; should one appear in a tree, it is still not served."""
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "page.html").write_text("inside")
    (tmp_path / "outside.txt").write_text("outside")
    (tree / "leak.txt").symlink_to(tmp_path / "outside.txt")
    (tree / "sub" / "up").symlink_to(tmp_path)
    assert locate(tree, ["page.html"]) == (tree / "page.html").resolve()
    assert locate(tree, ["leak.txt"]) is None
    assert locate(tree, ["sub", "up", "outside.txt"]) is None
    assert locate(tree, ["missing.html"]) is None
