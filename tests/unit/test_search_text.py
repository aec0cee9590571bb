"""Text of doc pages, query parsing rules and paging of the search plugin."""

from __future__ import annotations

import json

import pytest

from cheesecellar.search import SearchQueryError
from cheesecellar_search import query
from cheesecellar_search.htmltext import page_text
from cheesecellar_search.paging import Window
from cheesecellar_search.paging import check_paging
from cheesecellar_search.schema import make_schema


def test_html_text_leaves_out_scripts_and_styles():
    page = (
        b"<html><head><title> The  Title </title><style>p{}</style></head><body>"
        b"<script>secret()</script><h1>Head</h1><p>Body &amp; more</p><svg><text>x</text></svg>"
        b"</body></html>"
    )
    assert page_text("a/b.html", page) == ("The Title", "Head Body & more")


def test_title_falls_back_to_h1_then_file_name():
    assert page_text("x.htm", b"<h1>First</h1><p>text</p>")[0] == "First"
    assert page_text("dir/x.html", b"<p>text</p>") == ("x.html", "text")


def test_sphinx_json_pages_and_other_files():
    body = json.dumps({"title": "<em>API</em>", "body": "<p>Call <code>f()</code></p>"})
    assert page_text("api.fjson", body.encode()) == ("API", "Call f()")
    assert page_text("broken.fjson", b"{") is None
    assert page_text("style.css", b"p {}") is None


@pytest.fixture(scope="module")
def parser():
    return query.make_parser(make_schema())


def test_plain_words_and_exact_names(parser):
    parsed = query.parse(parser, "Zope.Interface")
    assert parsed.exact == "zope-interface"
    assert parsed.words == ("zope-interface",)
    parsed = query.parse(parser, "flask AND sql*")
    assert parsed.exact is None
    assert parsed.words == ("flask", "sql*")
    assert query.parse(parser, 'summary:"two words"').words == ()


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "a" * 1001,
        "x\x00y",
        "(((",
        "nofield:x",
        "a*",
        "?b",
        " ".join(f"w{i}" for i in range(50)),
    ],
)
def test_bad_queries_raise_search_query_error(parser, text):
    with pytest.raises(SearchQueryError):
        query.parse(parser, text)


def test_known_fields_and_urls_pass(parser):
    query.parse(parser, "summary:parser name:flask")
    query.parse(parser, "see https://example.org/x")


@pytest.mark.parametrize(
    ("page", "per_page"), [(0, 10), (1, 0), (1, 101), ("x", 1), (True, 1), (1001, 1)]
)
def test_paging_bounds(page, per_page):
    with pytest.raises(SearchQueryError):
        check_paging(page, per_page)


def test_window_takes_across_segments():
    first, second = ["a", "b", "c"], ["x", "y"]
    segments = [(first, 0, 1), (second, 0, 2), (first, 1, 3)]
    assert Window(1, 2).take(segments) == ["a", "x"]
    assert Window(2, 2).take(segments) == ["y", "b"]
    assert Window(3, 2).take(segments) == ["c"]
    assert Window(4, 2).take(segments) == []
