"""The simple API of a private index: PEP 503/629 HTML, PEP 691/700 JSON, negotiation."""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests
from distfiles import sdist
from distfiles import upload
from distfiles import wheel

ALICE = ("alice", "alicepw")
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
PIP_UA = 'pip/24.0 {"installer":{"name":"pip","version":"24.0"}}'
META_TAG = '<meta name="pypi:repository-version" content="1.1">'
REQUIRES = ">=3.8,<4"
WHEEL = wheel("Hello_World", "1.0", requires_python=REQUIRES)
SDIST = sdist("Hello_World", "1.0", requires_python=REQUIRES)
OLD = sdist("Hello_World", "0.9")


class Anchors(HTMLParser):
    """The ``<a>`` elements of a page: ``(attributes, text)``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.found: list[tuple[dict, str]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.found.append((dict(attrs), ""))

    def handle_data(self, data):
        if self.found and not self.found[-1][1]:
            self.found[-1] = (self.found[-1][0], data)


@pytest.fixture(scope="module")
def site(server):
    """``alice/dev`` inherits ``alice/base``; hello-world in dev, basepkg in base."""
    with server.session() as session:
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
        session.login(*ALICE)
        session.put("/alice/base", json={}).raise_for_status()
        session.put("/alice/dev", json={"bases": "alice/base"}).raise_for_status()
    for index, dist in (
        ("dev", WHEEL),
        ("dev", SDIST),
        ("dev", OLD),
        ("base", sdist("basepkg", "3")),
    ):
        upload(f"{server.url}/alice/{index}/", dist, ALICE).raise_for_status()
    return server


def get(site, path: str, accept: str | None = None, **headers) -> requests.Response:
    if accept is not None:
        headers["Accept"] = accept
    return requests.get(site.url + path, headers=headers, allow_redirects=False)


def by_name(reply: requests.Response) -> dict[str, dict]:
    return {attrs_text[1]: attrs_text[0] for attrs_text in Anchors(reply.text).found}


def test_project_list_html_has_meta_tag_and_bases(site):
    reply = get(site, "/alice/dev/+simple/", BROWSER_ACCEPT)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert META_TAG in reply.text
    assert {name: attrs["href"] for name, attrs in by_name(reply).items()} == {
        "basepkg": "basepkg/",
        "hello-world": "hello-world/",
    }


def test_project_list_json(site):
    reply = get(site, "/alice/dev/+simple/", PIP_ACCEPT)
    assert reply.headers["Content-Type"] == JSON_TYPE
    assert reply.json() == {
        "meta": {"api-version": "1.1"},
        "projects": [{"name": "basepkg"}, {"name": "hello-world"}],
    }
    assert get(site, "/alice/base/+simple/", PIP_ACCEPT).json()["projects"] == [{"name": "basepkg"}]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (PIP_ACCEPT, JSON_TYPE),
        (BROWSER_ACCEPT, "text/html"),
        (None, "text/html"),
        ("application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.v1+html"),
        ("application/vnd.pypi.simple.latest+json, text/html;q=0.5", "text/html"),
    ],
)
def test_project_page_format_follows_accept(site, accept, expected):
    reply = get(site, "/alice/dev/+simple/hello-world/", accept)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].split(";")[0] == expected
    assert reply.headers["Vary"] == "Accept, User-Agent"
    if expected == JSON_TYPE:
        assert reply.json()["name"] == "hello-world"
    else:
        assert META_TAG in reply.text


def test_unserved_simple_api_version_is_406(site):
    accept = "application/vnd.pypi.simple.v2+json"
    assert get(site, "/alice/dev/+simple/hello-world/", accept).status_code == 406


@pytest.mark.parametrize("accept", ["image/png", "application/json"])
def test_other_accept_gets_html(site, accept):
    reply = get(site, "/alice/dev/+simple/hello-world/", accept)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")


def test_html_links_carry_hashes_and_attributes(site):
    reply = get(site, "/alice/dev/+simple/hello-world/", BROWSER_ACCEPT)
    links = by_name(reply)
    assert set(links) == {WHEEL.filename, SDIST.filename, OLD.filename}
    for dist in (WHEEL, SDIST, OLD):
        assert links[dist.filename]["href"].endswith(f"#sha256={dist.sha256}")
    assert links[WHEEL.filename]["data-requires-python"] == REQUIRES
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in reply.text
    assert "data-requires-python" not in links[OLD.filename]
    metadata_hash = "sha256=" + hashlib.sha256(WHEEL.metadata).hexdigest()
    assert links[WHEEL.filename]["data-dist-info-metadata"] == metadata_hash
    assert links[WHEEL.filename]["data-core-metadata"] == metadata_hash
    for name in (SDIST.filename, OLD.filename):
        assert "data-core-metadata" not in links[name]
        assert "data-dist-info-metadata" not in links[name]
        assert "data-yanked" not in links[name]


def test_json_page_has_pep700_fields(site):
    data = get(site, "/alice/dev/+simple/hello-world/", PIP_ACCEPT).json()
    assert data["meta"] == {"api-version": "1.1"}
    assert data["versions"] == ["0.9", "1.0"]
    files = {item["filename"]: item for item in data["files"]}
    for dist in (WHEEL, SDIST, OLD):
        item = files[dist.filename]
        assert item["hashes"] == {"sha256": dist.sha256}
        assert item["size"] == dist.size
        assert item["upload-time"].endswith("Z")
        assert "#" not in item["url"]
    assert files[WHEEL.filename]["requires-python"] == REQUIRES
    metadata_hash = {"sha256": hashlib.sha256(WHEEL.metadata).hexdigest()}
    assert files[WHEEL.filename]["core-metadata"] == metadata_hash
    assert "core-metadata" not in files[SDIST.filename]


PAGE_URLS = [
    ("/alice/dev/+simple/hello-world/", {"Accept": BROWSER_ACCEPT}),
    ("/alice/dev/+simple/hello-world", {"User-Agent": PIP_UA}),
    ("/alice/dev/+simple/hello-world", {"Accept": PIP_ACCEPT}),
    ("/alice/dev/%2Bsimple/hello-world/", {"Accept": PIP_ACCEPT}),
    ("/alice/dev/hello-world", {"User-Agent": PIP_UA}),
    ("/alice/dev/hello-world/", {"User-Agent": PIP_UA, "Accept": PIP_ACCEPT}),
    ("/alice/base/+simple/basepkg/", {}),
    ("/alice/dev/+simple/basepkg/", {"Accept": PIP_ACCEPT}),
]


@pytest.mark.parametrize(("path", "headers"), PAGE_URLS)
def test_every_link_resolves_to_the_file(site, path, headers):
    """Follow each relative href from the URL it was served at, as pip does."""
    reply = requests.get(site.url + path, headers=headers, allow_redirects=False)
    assert reply.status_code == 200
    if reply.headers["Content-Type"] == JSON_TYPE:
        hrefs = [(item["url"], item["hashes"]["sha256"]) for item in reply.json()["files"]]
    else:
        hrefs = [tuple(a["href"].split("#sha256=")) for a in by_name(reply).values()]
    assert hrefs
    for href, sha256 in hrefs:
        assert not href.startswith(("http:", "/"))
        download = requests.get(urljoin(reply.url, href), headers={"User-Agent": PIP_UA})
        assert download.status_code == 200, href
        assert hashlib.sha256(download.content).hexdigest() == sha256


def test_percent_encoded_plus_f(site):
    data = get(site, "/alice/dev/+simple/hello-world/", PIP_ACCEPT).json()
    url = next(f["url"] for f in data["files"] if f["filename"] == WHEEL.filename)
    absolute = urljoin(site.url + "/alice/dev/+simple/hello-world/", url)
    reply = requests.get(absolute.replace("/+f/", "/%2Bf/"))
    assert reply.status_code == 200
    assert reply.content == WHEEL.content


def test_etag_gives_304_and_changes_after_upload_to_a_base(site):
    upload(f"{site.url}/alice/dev/", sdist("etagpkg", "1.0"), ALICE).raise_for_status()
    path = "/alice/dev/+simple/etagpkg/"
    etag = get(site, path, PIP_ACCEPT).headers["ETag"]
    again = get(site, path, PIP_ACCEPT, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert get(site, path, BROWSER_ACCEPT).headers["ETag"] != etag
    upload(f"{site.url}/alice/base/", sdist("etagpkg", "0.1"), ALICE).raise_for_status()
    changed = get(site, path, PIP_ACCEPT, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json()["versions"] == ["0.1", "1.0"]


def test_project_list_etag(site):
    etag = get(site, "/alice/dev/+simple/", PIP_ACCEPT).headers["ETag"]
    same = get(site, "/alice/dev/+simple/", PIP_ACCEPT, **{"If-None-Match": etag})
    assert same.status_code == 304
    upload(f"{site.url}/alice/dev/", sdist("newcomer", "1"), ALICE).raise_for_status()
    changed = get(site, "/alice/dev/+simple/", PIP_ACCEPT, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert {"name": "newcomer"} in changed.json()["projects"]


@pytest.mark.parametrize("accept", [PIP_ACCEPT, BROWSER_ACCEPT])
def test_non_normalised_name_redirects(site, accept):
    reply = get(site, "/alice/dev/+simple/Hello_World/", accept)
    assert reply.status_code == 302
    assert reply.headers["Location"] == site.url + "/alice/dev/+simple/hello-world/"


def test_missing_slash_redirects_browsers_only(site):
    for path in ("/alice/dev/+simple/hello-world", "/alice/dev/+simple"):
        browser = get(site, path, BROWSER_ACCEPT)
        assert browser.status_code == 302
        assert browser.headers["Location"] == site.url + path + "/"
        assert get(site, path, PIP_ACCEPT).status_code == 200
        assert get(site, path, None, **{"User-Agent": PIP_UA}).status_code == 200


def test_unknown_project_and_index(site):
    assert get(site, "/alice/dev/+simple/nope/", PIP_ACCEPT).status_code == 404
    assert get(site, "/alice/dev/+simple/nope/", BROWSER_ACCEPT).status_code == 404
    assert get(site, "/alice/nope/+simple/hello-world/", PIP_ACCEPT).status_code == 404
    assert get(site, "/alice/nope/+simple/", PIP_ACCEPT).status_code == 404


def test_installer_on_project_url_gets_the_simple_page(site):
    reply = get(site, "/alice/dev/hello-world", None, **{"User-Agent": PIP_UA})
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert set(by_name(reply)) == {WHEEL.filename, SDIST.filename, OLD.filename}
    uv = get(site, "/alice/dev/hello-world/", PIP_ACCEPT, **{"User-Agent": "uv/0.5.1"})
    assert uv.headers["Content-Type"] == JSON_TYPE
    plain = get(site, "/alice/dev/hello-world", "application/json")
    assert plain.json()["type"] == "projectconfig"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/alice/dev/+simple/", {"Accept": BROWSER_ACCEPT}),
        ("/alice/dev/+simple", {"User-Agent": PIP_UA}),
    ],
)
def test_project_list_links_lead_to_project_pages(site, path, headers):
    reply = requests.get(site.url + path, headers=headers, allow_redirects=False)
    for name, attrs in by_name(reply).items():
        project = requests.get(urljoin(reply.url, attrs["href"]), headers=headers)
        assert project.status_code == 200, attrs["href"]
        files = by_name(project)
        assert files
        assert all(filename.lower().startswith(name.replace("-", "_")) for filename in files)


def test_head_and_conditional_variants(site):
    path = "/alice/dev/+simple/hello-world/"
    head = requests.head(site.url + path, headers={"Accept": PIP_ACCEPT})
    assert head.status_code == 200
    assert head.content == b""
    etag = head.headers["ETag"]
    assert etag == get(site, path, PIP_ACCEPT).headers["ETag"]
    for condition in (f'"other", {etag}', "*", f"W/{etag}"):
        reply = get(site, path, PIP_ACCEPT, **{"If-None-Match": condition})
        assert reply.status_code == 304, condition
    assert get(site, path, PIP_ACCEPT, **{"If-None-Match": '"other"'}).status_code == 200
