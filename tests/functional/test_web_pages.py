"""The web pages: HTML for browsers on the API's URLs, JSON and simple pages for the rest."""

from __future__ import annotations

import json
import re

import pytest
import requests
from distfiles import doczip
from distfiles import post_form
from distfiles import sdist
from distfiles import upload
from distfiles import wheel
from webkit import BROWSER_ACCEPT
from webkit import assert_html
from webkit import browser_get
from webkit import browser_post
from webkit import links
from webkit import page_text
from webkit import parse_page

from cheesecellar import __version__
from cheesecellar.model import releases

ALICE = ("alice", "alicepw")
JSON = {"Accept": "application/json", "Content-Type": "application/json"}
PIP_HEADERS = {
    "User-Agent": 'pip/24.2 {"installer":{"name":"pip","version":"24.2"}}',
    "Accept": "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; "
    "q=0.1, text/html; q=0.01",
}
UV_HEADERS = {
    "User-Agent": "uv/0.4.30 {}",
    "Accept": "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;"
    " q=0.2, text/html; q=0.01",
}
TOXRESULT = {
    "reportversion": "1",
    "toxversion": "4.20.0",
    "host": "ci-7",
    "platform": "linux",
    "testenvs": {
        "py311": {"test": [{"command": ["pytest"], "retcode": 0, "output": "ok"}]},
        "lint": {"test": [{"command": ["ruff", "check"], "retcode": 1, "output": "no"}]},
    },
}
README = "Greeter\n=======\n\nSays *hello* with ``style``.\n"


@pytest.fixture(scope="module")
def site(server):
    """alice/dev (bases alice/base) with ``greeter`` 1.0, 2.0, 3.0b1 (docs and tox
    results on 2.0); alice/base holds ``basepkg`` 0.1."""
    with server.session() as session:
        session.put("/alice", json={"password": ALICE[1], "title": "Alice"}).raise_for_status()
        session.login(*ALICE)
        session.put("/alice/base", json={"title": "Base index"}).raise_for_status()
        body = {"bases": ["alice/base"], "title": "Development", "description": "Daily work",
                "acl_upload": ["alice", ":team", ":AUTHENTICATED:"],
                "mirror_whitelist": ["greeter"]}  # fmt: skip
        session.put("/alice/dev", json=body).raise_for_status()
    upload(f"{server.url}/alice/base/", wheel("basepkg", "0.1"), ALICE).raise_for_status()
    for version in ("1.0", "2.0", "3.0b1"):
        upload(f"{server.url}/alice/dev/", wheel("greeter", version, **metadata(version)), ALICE)
    upload(f"{server.url}/alice/dev/", sdist("greeter", "2.0", **metadata("2.0")), ALICE)
    fields = {":action": "doc_upload", "name": "greeter", "version": "2.0"}
    files = {"content": ("greeter-2.0.doc.zip", doczip())}
    post_form(f"{server.url}/alice/dev/", fields, ALICE, files).raise_for_status()
    wheel_url = json_get(server, "/alice/dev/greeter/2.0")["+links"][0]["href"]
    requests.post(
        wheel_url, data=json.dumps(TOXRESULT), headers=JSON, auth=ALICE, timeout=30
    ).raise_for_status()
    return server


def metadata(version: str) -> dict:
    return {
        "summary": f"Greets {version}",
        "description": README,
        "description_content_type": "text/x-rst",
        "requires_python": ">=3.9",
        "requires_dist": ["requests>=2"],
        "classifiers": ["License :: OSI Approved :: MIT License"],
        "extra_headers": [
            "Author: Alice Liddell",
            "License: MIT",
            "Home-page: https://greeter.example.org/",
            "Project-URL: Source, https://code.example.org/greeter",
        ],
    }


def json_get(live, path: str):
    reply = requests.get(live.url + path, headers=JSON, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()["result"]


def html(live, path: str, status: int = 200) -> str:
    return assert_html(browser_get(live.url + path), status)


PAGES = ["/", "/alice", "/alice/dev", "/alice/dev/greeter", "/alice/dev/greeter/2.0"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_in_the_layout(site, path):
    text = html(site, path)
    page = parse_page(text)
    assert ("get", f"{site.url}/+search") in page.forms
    assert f"{site.url}/+status" in page.links
    assert f"{site.url}/" in page.links
    assert f"{site.url}/+static/{__version__}/cellar.css" in text
    assert __version__ in page_text(text)


@pytest.mark.parametrize("path", [*PAGES, "/alice/dev/greeter/2.0/", "/alice/dev/"])
@pytest.mark.parametrize(
    "accept", ["application/json", "*/*", None, "text/html;q=0.5, application/json"]
)
def test_the_same_urls_keep_answering_json(site, path, accept):
    headers = {} if accept is None else {"Accept": accept}
    reply = requests.get(site.url + path, headers=headers, timeout=30)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert "Accept" in reply.headers["Vary"]
    expected = requests.get(site.url + path, headers={"Accept": "application/json"}, timeout=30)
    assert reply.json() == expected.json()
    assert reply.json()["type"] in ("list:userconfig", "userconfig", "indexconfig",
                                    "projectconfig", "versiondata")  # fmt: skip


@pytest.mark.parametrize("headers", [PIP_HEADERS, UV_HEADERS], ids=["pip", "uv"])
def test_installers_still_get_simple_pages(site, headers):
    accept_html = {**headers, "Accept": BROWSER_ACCEPT}
    for sent in (headers, accept_html):
        reply = requests.get(f"{site.url}/alice/dev/", headers=sent, timeout=30)
        assert reply.status_code == 200
        assert "<header" not in reply.text
        assert "greeter" in reply.text
    reply = requests.get(f"{site.url}/alice/dev/greeter/", headers=accept_html, timeout=30)
    assert "greeter-2.0-py3-none-any.whl" in reply.text
    assert "<header" not in reply.text


def test_root_page_lists_users_and_their_indexes(site):
    text = page_text(html(site, "/"))
    assert "alice/dev" in text and "alice/base" in text
    assert "Development" in text and "Daily work" in text and "Base index" in text
    assert f"{site.url}/alice/dev" in links(html(site, "/"))


def test_user_page_lists_its_indexes(site):
    text = html(site, "/alice")
    assert "Development" in page_text(text)
    assert f"{site.url}/alice/base" in links(text)


def test_index_page_shows_config_and_projects(site):
    text = html(site, "/alice/dev")
    shown = page_text(text)
    for expected in ("Development", "Daily work", ":team", ":AUTHENTICATED:", "greeter",
                     f"{site.url}/alice/dev/+simple/", "3.0b1", "Greets 3.0b1"):  # fmt: skip
        assert expected in shown, expected
    found = links(text)
    assert f"{site.url}/alice/base" in found
    assert f"{site.url}/alice/dev/greeter" in found
    assert f"{site.url}/alice/dev/greeter/3.0b1" in found
    assert "basepkg" not in shown  # the index's own projects only


def test_project_page_lists_versions_newest_first_with_their_index(site):
    text = html(site, "/alice/dev/basepkg")
    assert f"{site.url}/alice/dev/basepkg/0.1" in links(text)
    assert "alice/base" in page_text(text)
    text = html(site, "/alice/dev/greeter")
    shown = page_text(text)
    assert shown.index("3.0b1") < shown.index("2.0") < shown.index("1.0")
    assert "refresh" not in text.lower()  # no mirror in the way


def test_version_page_shows_metadata_files_and_install_command(site):
    text = html(site, "/alice/dev/greeter/2.0")
    shown = page_text(text)
    for expected in ("Greets 2.0", "Alice Liddell", "MIT", ">=3.9", "requests>=2",
                     "License :: OSI Approved :: MIT License", "greeter-2.0.tar.gz",
                     "wheel", "sdist", "alice"):  # fmt: skip
        assert expected in shown, expected
    assert f'value="pip install -i {site.url}/alice/dev/+simple/ greeter==2.0"' in text
    assert "<em>hello</em>" in text  # the reST description, rendered
    found = links(text)
    assert "https://greeter.example.org/" in found
    assert "https://code.example.org/greeter" in found
    assert f"{site.url}/alice/dev/greeter/2.0/+doc/" in found
    verdata = json_get(site, "/alice/dev/greeter/2.0")
    for link in verdata["+links"]:
        if link["rel"] == "releasefile":
            assert link["href"] in found
            assert link["hashes"]["sha256"] in text


def test_version_page_shows_tox_results_per_file(site):
    text = html(site, "/alice/dev/greeter/2.0")
    table = text[text.index("Tox results") :]
    rows = {
        env: state
        for env, state in re.findall(r"<td>(py311|lint)</td>.*?tag (passed|failed)", table, re.S)
    }
    assert rows == {"py311": "passed", "lint": "failed"}
    wheel_name = "greeter-2.0-py3-none-any.whl"
    assert f"{site.url}/alice/dev/greeter/2.0/+toxresults/{wheel_name}" in links(text)
    assert "Tox results" not in html(site, "/alice/dev/greeter/1.0")
    assert "+doc/" not in html(site, "/alice/dev/greeter/1.0")


@pytest.mark.parametrize(("alias", "version"), [("latest", "3.0b1"), ("stable", "2.0")])
def test_latest_and_stable_name_a_version(site, alias, version):
    text = html(site, f"/alice/dev/greeter/{alias}")
    assert f"greeter=={version}" in text
    assert f"Greets {version}" in page_text(text)
    api = requests.get(f"{site.url}/alice/dev/greeter/{alias}", headers=JSON, timeout=30)
    assert api.status_code == 404  # the API keeps its exact version URLs


def test_index_pages_are_paged(site):
    storage = site.storage
    with storage.transaction(write=True) as tx:
        for number in range(120):
            releases.set_metadata(
                tx, "alice/many", f"pkg{number:03d}", "1.0", {"summary": f"number {number}"}
            )
    with site.session() as session:
        session.login(*ALICE)
        session.put("/alice/many", json={}).raise_for_status()
    first = page_text(html(site, "/alice/many"))
    assert "pkg000" in first and "pkg049" in first and "pkg050" not in first
    assert "Page 1 of 3" in first
    third = html(site, "/alice/many?page=3")
    assert "pkg119" in third and "pkg099" not in third
    assert f"{site.url}/alice/many?page=2" in links(third)
    assert "pkg000" in html(site, "/alice/many?page=nonsense")
    assert "pkg119" in html(site, "/alice/many?page=99")


def test_error_pages_are_html_for_browsers_only(site):
    reply = browser_get(f"{site.url}/alice/dev/nothing-here")
    text = assert_html(reply, 404)
    assert "no project 'nothing-here'" in page_text(text)
    assert "<header" in text
    api = requests.get(f"{site.url}/alice/dev/nothing-here", headers=JSON, timeout=30)
    assert api.status_code == 404
    assert api.json() == {"message": "no project 'nothing-here'"}
    plain = requests.get(f"{site.url}/alice/dev/nothing-here", timeout=30)
    assert plain.headers["Content-Type"].startswith("text/plain")
    assert "<" not in plain.text
    reply = browser_post(f"{site.url}/+login", data="not json")
    assert "<header" in assert_html(reply, 400)
    reply = browser_post(f"{site.url}/alice/dev/", data={":action": "file_upload"})
    assert assert_html(reply, reply.status_code).count("<header") == 1
    assert reply.status_code in (401, 403)


def test_a_trailing_slash_redirects_to_a_page_that_exists(site):
    reply = browser_get(f"{site.url}/+api/")
    assert reply.status_code == 302
    assert reply.headers["Location"] == f"{site.url}/+api"
    assert_html(browser_get(f"{site.url}/+nothing/"), 404)
    api = requests.get(f"{site.url}/+api/", headers=JSON, timeout=30)
    assert api.status_code == 404


def test_static_css_is_served_with_long_cache_headers(site):
    reply = requests.get(f"{site.url}/+static/{__version__}/cellar.css", timeout=30)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/css")
    assert "max-age=31536000" in reply.headers["Cache-Control"]
    assert "prefers-color-scheme: dark" in reply.text
    assert "http" not in reply.text and "@import" not in reply.text
    missing = requests.get(f"{site.url}/+static/{__version__}/nothing.css", timeout=30)
    assert missing.status_code == 404


METADATA_LINKS = ("https://greeter.example.org/", "https://code.example.org/greeter")


@pytest.mark.parametrize("path", [*PAGES, "/alice/dev/greeter/1.0", "/alice/nothing"])
def test_pages_load_nothing_from_outside_the_server(site, path):
    reply = browser_get(site.url + path)
    found = re.findall(r"""https?://[^\s"'<>)]+""", reply.text)
    outside = [u for u in found if not u.startswith(site.url + "/") and u not in METADATA_LINKS]
    assert outside == []
    page = parse_page(reply.text)
    for tag, name, value in page.attrs:
        if name in ("src", "srcset") or (tag == "link" and name == "href"):
            assert value.startswith(site.url + "/"), (tag, name, value)
    assert "script" not in page.tags


def test_mirror_index_page_shows_the_mirror_and_its_cache_link(shared, upstream):
    from mirrorkit import new_mirror

    live, admin = shared
    mirror = new_mirror(live, admin, upstream)
    text = assert_html(browser_get(mirror.url))
    assert upstream.index_url in page_text(text)
    assert f"{mirror.url}/+cached" in links(text)
    assert "Projects" not in page_text(text)
    api = requests.get(mirror.url, headers=JSON, timeout=30).json()["result"]
    assert api["type"] == "mirror"


def test_refresh_form_on_a_mirrored_project(shared, upstream):
    from mirrorkit import new_mirror

    live, admin = shared
    mirror = new_mirror(live, admin, upstream)
    text = assert_html(browser_get(f"{mirror.url}/requests"))
    refresh = f"{mirror.url}/+simple/requests/refresh"
    assert ("post", refresh) in parse_page(text).forms
    assert "2.32.3" in page_text(text)
    upstream.catalog.add("requests", "2.99.0")
    reply = browser_post(refresh, data={})
    assert reply.status_code == 303
    assert reply.headers["Location"] == f"{mirror.url}/requests"
    assert "2.99.0" in page_text(assert_html(browser_get(f"{mirror.url}/requests")))
    version = assert_html(browser_get(f"{mirror.url}/requests/2.32.3"))
    assert f"{mirror.url}/+f/" in " ".join(links(version))
    assert "requests-2.32.3-py3-none-any.whl" in page_text(version)
    api = requests.post(refresh, allow_redirects=False, timeout=30)
    assert api.status_code == 302  # clients keep the simple page redirect
    assert api.headers["Location"] == f"{mirror.url}/+simple/requests/"
