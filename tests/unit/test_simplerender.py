"""Simple API bodies: HTML escaping, the PEP 629 meta tag, PEP 691/700 JSON, relative hrefs."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest

from cheesecellar import simplerender
from cheesecellar.model.pages import Link
from cheesecellar.model.pages import ProjectPage

SHA = "a" * 64
PAGE_URL = "http://h/u/i/+simple/p/"


class Parsed(HTMLParser):
    """Start tags with their attributes, and the text inside each tag."""

    def __init__(self, body: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(body.decode())
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._open.append(tag)

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        if self._open and data.strip():
            self.text.setdefault(self._open[-1], []).append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def link(path: str, **kw) -> Link:
    kw.setdefault("filename", path.rsplit("/", 1)[-1])
    kw.setdefault("stage", path.split("/+f/")[0])
    kw.setdefault("version", "1.0")
    kw.setdefault("hashes", {"sha256": SHA})
    return Link(path=path, **kw)


def page(*links: Link, name: str = "p", versions=("1.0",)) -> ProjectPage:
    return ProjectPage(name, list(versions), list(links), [])


OWN = link("u/i/+f/aaa/aaaaaaaaaaaaa/p-1.0.tar.gz")
BASE = link("u/prod/+f/bbb/bbbbbbbbbbbbb/p-0.9.tar.gz", version="0.9")
OTHER_USER = link("root/pypi/+f/ccc/ccccccccccccc/p-0.8-py3-none-any.whl", version="0.8")
SIMILAR = link("u/i2/+f/ddd/ddddddddddddd/p-0.7.tar.gz", version="0.7")
ALL = (OWN, BASE, OTHER_USER, SIMILAR)


class TestHtml:
    def test_names_and_attributes_are_escaped(self):
        nasty = link(
            'u/i/+f/aaa/aaaaaaaaaaaaa/p-1.0"<b>&amp;.tar.gz',
            hashes={"sha256": 'ab"<c>'},
            requires_python='<3,>=2"',
            yanked='bad <b>"reason"</b> & worse',
            core_metadata={"sha256": 'e"f'},
        )
        body = simplerender.project_html("u/i", page(nasty, name='p<i>&"'))
        parsed = Parsed(body)
        assert [name for name, _ in parsed.tags if name in ("b", "i")] == []
        [anchor] = parsed.all("a")
        assert anchor["href"] == '../../+f/aaa/aaaaaaaaaaaaa/p-1.0"<b>&amp;.tar.gz#sha256=ab"<c>'
        assert anchor["data-requires-python"] == '<3,>=2"'
        assert anchor["data-yanked"] == 'bad <b>"reason"</b> & worse'
        assert anchor["data-core-metadata"] == 'sha256=e"f'
        assert anchor["data-dist-info-metadata"] == 'sha256=e"f'
        assert parsed.text["a"] == ['p-1.0"<b>&amp;.tar.gz']
        assert parsed.text["title"] == ['Links for p<i>&"']

    def test_optional_attributes(self):
        plain = link("u/i/+f/aaa/aaaaaaaaaaaaa/p-1.0.tar.gz")
        empty = link("u/i/+f/aaa/aaaaaaaaaaaab/p-1.1.tar.gz", requires_python="", yanked=True)
        first, second = Parsed(simplerender.project_html("u/i", page(plain, empty))).all("a")
        assert set(first) == {"href"}
        assert second["data-requires-python"] == ""
        assert second["data-yanked"] == ""

    @pytest.mark.parametrize(
        "body",
        [
            simplerender.project_html("u/i", page(OWN)),
            simplerender.index_html("u/i", ["p"]),
        ],
    )
    def test_the_pep629_meta_tag_is_present(self, body):
        assert body.startswith(b"<!DOCTYPE html>")
        metas = Parsed(body).all("meta")
        assert {"name": "pypi:repository-version", "content": "1.1"} in metas

    def test_the_project_list_links_each_project_page(self):
        body = simplerender.index_html("u/<i>", ["a-b", "c&d"])
        parsed = Parsed(body)
        hrefs = [urljoin("http://h/u/i/+simple/", a["href"]) for a in parsed.all("a")]
        assert hrefs == ["http://h/u/i/+simple/a-b/", "http://h/u/i/+simple/c&d/"]
        assert parsed.text["a"] == ["a-b", "c&d"]
        assert parsed.text["title"] == ["Simple index of u/<i>"]


class TestJson:
    def test_project_page_is_api_version_1_1_with_pep700_keys(self):
        full = link(
            "u/i/+f/aaa/aaaaaaaaaaaaa/p-1.0-py3-none-any.whl",
            requires_python=">=3.8",
            yanked="broken",
            core_metadata={"sha256": "b" * 64},
            size=1234,
            upload_time="2026-01-02T03:04:05.000006Z",
        )
        bare = link("root/pypi/+f/ccc/ccccccccccccc/p-0.1.tar.gz", yanked=True)
        body = simplerender.project_json("u/i", page(full, bare, versions=("0.1", "1.0")))
        data = json.loads(body)
        assert data["meta"] == {"api-version": "1.1"}
        assert data["name"] == "p"
        assert data["versions"] == ["0.1", "1.0"]
        first, second = data["files"]
        assert first == {
            "filename": "p-1.0-py3-none-any.whl",
            "url": "../../+f/aaa/aaaaaaaaaaaaa/p-1.0-py3-none-any.whl",
            "hashes": {"sha256": SHA},
            "requires-python": ">=3.8",
            "yanked": "broken",
            "core-metadata": {"sha256": "b" * 64},
            "dist-info-metadata": {"sha256": "b" * 64},
            "size": 1234,
            "upload-time": "2026-01-02T03:04:05.000006Z",
        }
        assert second == {
            "filename": "p-0.1.tar.gz",
            "url": "../../../../root/pypi/+f/ccc/ccccccccccccc/p-0.1.tar.gz",
            "hashes": {"sha256": SHA},
            "yanked": True,
        }

    def test_an_empty_page_still_has_versions_and_files(self):
        data = json.loads(simplerender.project_json("u/i", page(versions=())))
        assert data["versions"] == []
        assert data["files"] == []

    def test_project_list(self):
        data = json.loads(simplerender.index_json(["a", "b-c"]))
        assert data == {
            "meta": {"api-version": "1.1"},
            "projects": [{"name": "a"}, {"name": "b-c"}],
        }


def html_hrefs(body: bytes) -> list[str]:
    return [anchor["href"] for anchor in Parsed(body).all("a")]


def json_urls(body: bytes) -> list[str]:
    return [file["url"] for file in json.loads(body)["files"]]


class TestHrefs:
    @pytest.mark.parametrize("render", [simplerender.project_html, simplerender.project_json])
    def test_relative_hrefs_lead_to_each_stage_file(self, render):
        body = render("u/i", page(*ALL))
        found = html_hrefs(body) if render is simplerender.project_html else json_urls(body)
        resolved = [urljoin(PAGE_URL, href).split("#")[0] for href in found]
        assert resolved == [f"http://h/{item.path}" for item in ALL]
        assert all(not href.startswith(("/", "http")) for href in found)

    def test_html_hrefs_carry_the_hash_and_json_urls_do_not(self):
        sha512 = link("u/i/+f/eee/eeeeeeeeeeeee/p-2.0.tar.gz", hashes={"sha512": "f" * 8})
        hrefs = html_hrefs(simplerender.project_html("u/i", page(OWN, sha512)))
        assert [href.partition("#")[2] for href in hrefs] == [f"sha256={SHA}", "sha512=ffffffff"]
        assert all("#" not in url for url in json_urls(simplerender.project_json("u/i", page(OWN))))

    @pytest.mark.parametrize(
        ("page_url", "up"),
        [
            ("http://h/u/i/+simple/p/", "../../"),
            ("http://h/u/i/+simple/p", "../"),
            ("http://h/u/i/p", ""),
        ],
    )
    def test_pages_served_at_other_depths(self, page_url, up):
        body = simplerender.project_json("u/i", page(*ALL), up)
        resolved = [urljoin(page_url, url) for url in json_urls(body)]
        assert resolved == [f"http://h/{item.path}" for item in ALL]


def test_etags_follow_the_body():
    first = simplerender.etag_of(b"one")
    assert first == simplerender.etag_of(b"one")
    assert first != simplerender.etag_of(b"two")
    assert first.startswith('"')
    assert first.endswith('"')
