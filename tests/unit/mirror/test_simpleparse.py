"""Parsing upstream pages and lists: PEP 691 JSON, PEP 503 HTML, PEP 592/658/700/714 fields."""

from __future__ import annotations

import json

import pytest

from cheesecellar_mirror.simpleparse import MAX_PENDING
from cheesecellar_mirror.simpleparse import ParseError
from cheesecellar_mirror.simpleparse import UpstreamFile
from cheesecellar_mirror.simpleparse import UpstreamPage
from cheesecellar_mirror.simpleparse import is_json
from cheesecellar_mirror.simpleparse import iter_list_names
from cheesecellar_mirror.simpleparse import parse_project_page

PAGE_URL = "https://up.example/simple/hello-world/"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
SHA = "ab" * 32


def json_page(files, **extra) -> bytes:
    return json.dumps({"meta": {"api-version": "1.1"}, "files": files, **extra}).encode()


def test_json_page_keeps_every_modern_field():
    body = json_page(
        [
            {
                "filename": "Hello_World-1.0-py3-none-any.whl",
                "url": "../../packages/ab/Hello_World-1.0-py3-none-any.whl#sha256=ignored",
                "hashes": {"sha256": SHA, "blake2b_256": "cd"},
                "requires-python": ">=3.8",
                "yanked": "broken build",
                "core-metadata": {"sha256": "ef" * 32},
                "size": 1234,
                "upload-time": "2024-05-01T10:00:00.123456Z",
            }
        ],
        name="Hello_World",
        versions=["1.0", "2.0"],
    )
    page = parse_project_page(body, JSON_TYPE, PAGE_URL, "hello-world")
    assert page.name == "Hello_World"
    assert page.versions == ("1.0", "2.0")
    (file,) = page.files
    assert file == UpstreamFile(
        filename="Hello_World-1.0-py3-none-any.whl",
        url="https://up.example/packages/ab/Hello_World-1.0-py3-none-any.whl",
        hashes={"sha256": SHA},
        requires_python=">=3.8",
        yanked="broken build",
        core_metadata={"sha256": "ef" * 32},
        size=1234,
        upload_time="2024-05-01T10:00:00.123456Z",
    )


def test_json_page_tolerates_missing_optional_fields():
    body = json.dumps(
        {"files": [{"filename": "a-1.tar.gz", "url": "https://f.example/a-1.tar.gz"}]}
    )
    page = parse_project_page(body.encode(), "application/json", PAGE_URL, "a")
    assert page == UpstreamPage(
        name="a", files=(UpstreamFile("a-1.tar.gz", "https://f.example/a-1.tar.gz"),)
    )


@pytest.mark.parametrize(
    ("fields", "yanked", "metadata"),
    [
        ({"yanked": True, "dist-info-metadata": True}, True, True),
        ({"yanked": "", "core-metadata": {}}, True, True),
        ({"yanked": False, "core-metadata": False, "dist-info-metadata": True}, False, False),
        ({"dist-info-metadata": {"sha256": SHA}}, False, {"sha256": SHA}),
        ({"yanked": 1, "core-metadata": "yes", "size": True}, False, False),
    ],
)
def test_json_yanked_and_metadata_variants(fields, yanked, metadata):
    body = json_page([{"filename": "a-1-py3-none-any.whl", "url": "a.whl", **fields}])
    (file,) = parse_project_page(body, JSON_TYPE, PAGE_URL, "a").files
    assert (file.yanked, file.core_metadata, file.size) == (yanked, metadata, None)


@pytest.mark.parametrize("filename", ["", "../evil.whl", "dir/a-1.whl", "a\\b.whl", "..", None, 3])
def test_unsafe_file_names_are_skipped(filename):
    files = [{"filename": filename, "url": "x"}, {"filename": "ok-1.tar.gz", "url": "ok"}]
    page = parse_project_page(json_page(files), JSON_TYPE, PAGE_URL, "ok")
    assert [file.filename for file in page.files] == ["ok-1.tar.gz"]


def test_duplicate_file_names_prefer_the_hashed_link():
    files = [
        {"filename": "a-1.tar.gz", "url": "first", "hashes": {}},
        {"filename": "a-1.tar.gz", "url": "second", "hashes": {"sha256": SHA}},
        {"filename": "a-1.tar.gz", "url": "third", "hashes": {"sha256": SHA}},
    ]
    (file,) = parse_project_page(json_page(files), JSON_TYPE, PAGE_URL, "a").files
    assert file.url == PAGE_URL + "second"


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"[]",
        b'"files"',
        b'{"name": "a"}',
        b'{"files": {}}',
        b'{"meta": {"api-version": "2.0"}, "files": []}',
    ],
)
def test_garbage_json_is_refused(body):
    with pytest.raises(ParseError):
        parse_project_page(body, JSON_TYPE, PAGE_URL, "a")


def test_content_types():
    assert is_json("application/vnd.pypi.simple.v1+json; charset=utf-8")
    assert is_json("application/vnd.pypi.simple.latest+json")
    assert is_json("Application/JSON")
    assert not is_json("application/vnd.pypi.simple.v1+html")
    assert not is_json("text/html; charset=utf-8")
    assert not is_json(None)
    with pytest.raises(ParseError):
        is_json("application/vnd.pypi.simple.v2+json")


HTML_PAGE = f"""<!DOCTYPE html><html><head>
<meta name="pypi:repository-version" content="1.1"><title>Links for hello</title></head><body>
<a href="../../packages/hello-1.0.tar.gz#sha256={SHA}"
   data-requires-python="&gt;=3.8">hello-1.0.tar.gz</a><br>
<a href="https://files.example/p/hello-2.0-py3-none-any.whl#md5=00ff" data-yanked=""
   data-dist-info-metadata="sha256={"cd" * 32}">hello-2.0-py3-none-any.whl</a>
<a href="hello-3.0-py3-none-any.whl" data-yanked="security &amp; bugs"
   data-core-metadata="true" data-dist-info-metadata="sha256=00">hello-3.0-py3-none-any.whl</a>
<a href="hello-4.0.zip#egg=hello" data-requires-python="" data-core-metadata>x</a>
<a href="../">parent</a><a>no href</a>
<a href="a%20b-1.0.tar.gz#sha256={SHA}">spaced</a>
</body></html>"""


def test_html_page_attributes():
    page = parse_project_page(HTML_PAGE.encode(), "text/html", PAGE_URL, "hello")
    assert page.name == "hello"
    assert page.versions is None
    assert [file.to_dict() for file in page.files] == [
        {
            "filename": "hello-1.0.tar.gz",
            "url": "https://up.example/packages/hello-1.0.tar.gz",
            "hashes": {"sha256": SHA},
            "requires_python": ">=3.8",
        },
        {
            "filename": "hello-2.0-py3-none-any.whl",
            "url": "https://files.example/p/hello-2.0-py3-none-any.whl",
            "hashes": {"md5": "00ff"},
            "yanked": True,
            "core_metadata": {"sha256": "cd" * 32},
        },
        {
            "filename": "hello-3.0-py3-none-any.whl",
            "url": PAGE_URL + "hello-3.0-py3-none-any.whl",
            "yanked": "security & bugs",
            "core_metadata": True,
        },
        {
            "filename": "hello-4.0.zip",
            "url": PAGE_URL + "hello-4.0.zip",
            "core_metadata": True,
        },
        {
            "filename": "a b-1.0.tar.gz",
            "url": PAGE_URL + "a%20b-1.0.tar.gz",
            "hashes": {"sha256": SHA},
        },
    ]


def test_html_base_href_and_charset():
    body = '<base href="/mirror/files/"><a href="café-1.0.tar.gz">x</a>'.encode("latin-1")
    page = parse_project_page(body, "text/html; charset=ISO-8859-1", PAGE_URL, "café")
    assert page.files[0].url == "https://up.example/mirror/files/café-1.0.tar.gz"


def test_round_trip_through_dicts():
    page = parse_project_page(HTML_PAGE.encode(), "text/html", PAGE_URL, "hello")
    page = UpstreamPage(page.name, page.files, versions=("1.0",), etag='"x"', serial=7)
    data = json.loads(json.dumps(page.to_dict()))
    assert UpstreamPage.from_dict(data) == page
    assert UpstreamFile("a", "u").to_dict() == {"filename": "a", "url": "u"}


# --- streamed lists -------------------------------------------------------------------------

LIST_URL = "https://up.example/simple/"


def chunked(body: bytes, size: int):
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_json_list_in_any_chunking(size):
    projects = [{"name": "Zope", "_last-serial": 12345}, {"name": "aé-b"}, {"nope": 1}, "x"]
    body = json.dumps(
        {"projects": projects, "meta": {"api-version": "1.1", "_last-serial": 9}}, indent=1
    ).encode()
    names = list(iter_list_names(chunked(body, size), JSON_TYPE, LIST_URL))
    assert names == ["Zope", "aé-b"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"projects": [{"name": "a"}',
        b'{"projects": [{"name": "a"}]} trailing',
        b'{"meta": {"api-version": "2.0"}, "projects": []}',
        b'{"meta": {}}',
        b'{"projects": [{"name": "a"} {"name": "b"}]}',
        b'{"projects" [{"name": "a"}]}',
        b'{"projects": {"name": "a"}}',
        b'{"meta": {}, "projects": [], }',
        b'{"projects": [{"name": "a"},]}',
        b'{"projects": [], "meta": {"api-version": "1.0"}}{}',
        b"<html>not json</html>",
    ],
)
def test_garbage_json_lists_are_refused(body):
    with pytest.raises(ParseError):
        list(iter_list_names(chunked(body, 5), JSON_TYPE, LIST_URL))


def test_empty_json_list():
    assert list(iter_list_names([b'{"projects": []}'], JSON_TYPE, LIST_URL)) == []


def test_json_list_refuses_an_unbounded_value():
    chunks = [b'{"projects": ["'] + [b"x" * 65536] * (MAX_PENDING // 65536 + 2)
    with pytest.raises(ParseError, match="oversized"):
        list(iter_list_names(chunks, JSON_TYPE, LIST_URL))


def test_html_list_names_come_from_links_under_the_list():
    body = b"""<!DOCTYPE html><html><body>
    <a href="/simple/Django/">Django</a><a href="requests/">requests</a>
    <a href="https://up.example/simple/six/#x">six</a><a href="zope.interface">zope</a>
    <a href="https://other.example/simple/evil/">evil</a><a href="/elsewhere/x/">x</a>
    <a href="../">up</a><a href="%C3%A9t%C3%A9/">ete</a><a href="./a/b/">nested</a>
    </body></html>"""
    names = list(iter_list_names(chunked(body, 3), "text/html", LIST_URL))
    assert names == ["Django", "requests", "six", "zope.interface", "été"]


def test_html_list_accepts_any_attribute_quoting():
    body = b"""<A HREF='one/'>1</A><a class=x href=two/>2</a>
    <a data-href="no/" title="x">n</a><a title="t" href = "th&amp;ree/" >3</a>
    <a\nhref="four/">4</a><!-- a comment --><a href="https://up.example:443/simple/five/">5</a>"""
    for size in (1, 4, len(body)):
        names = list(iter_list_names(chunked(body, size), "text/html", LIST_URL))
        assert names == ["one", "two", "th&ree", "four", "five"]
