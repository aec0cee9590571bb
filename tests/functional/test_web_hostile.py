"""Hostile input on the web pages: markup and ``javascript:`` links are shown, never run."""

from __future__ import annotations

import pytest
from distfiles import sdist
from distfiles import upload
from distfiles import wheel
from webkit import assert_html
from webkit import browser_get
from webkit import links
from webkit import page_text
from webkit import parse_page

EVIL = "<script>alert('x')</script>"
EVIL_LINK = "javascript:alert(1)"
ALICE = ("alice", "alicepw")
DESCRIPTIONS = {
    "rst": (
        "text/x-rst",
        f"Title\n=====\n\n{EVIL}\n\n`click <{EVIL_LINK}>`_\n\n.. raw:: html\n\n   {EVIL}\n",
    ),
    "md": (
        "text/markdown",
        f"# Title\n\n{EVIL}\n\n[click]({EVIL_LINK})\n\n<img src=x onerror=alert(1)>\n",
    ),
    "plain": ("text/plain", f"Title\n\n{EVIL}\n{EVIL_LINK}\n"),
    "unknown": ("text/x-nonsense", f"{EVIL} <a href='{EVIL_LINK}'>x</a>"),
    "broken-rst": ("text/x-rst", f"Title\n===\n\n.. broken::\n\n{EVIL}\n`unclosed\n"),
}


@pytest.fixture(scope="module")
def site(server):
    with server.session() as session:
        session.put("/alice", json={"password": ALICE[1]}).raise_for_status()
        session.login(*ALICE)
        body = {"title": EVIL, "description": f"{EVIL} {EVIL_LINK}", "mirror_whitelist": [EVIL]}
        session.put("/alice/dev", json=body).raise_for_status()
    headers = [
        f"Author: {EVIL}",
        f"Home-page: {EVIL_LINK}",
        f"Project-URL: Docs, {EVIL_LINK}",
        f"Project-URL: {EVIL}, https://fine.example.org/",
        f"Keywords: {EVIL}",
        f"License: {EVIL}",
    ]
    for number, (content_type, text) in enumerate(DESCRIPTIONS.values()):
        fields = dict(
            summary=EVIL, description=text, description_content_type=content_type,
            requires_dist=[f"x; extra == '{EVIL}'"], classifiers=[EVIL], extra_headers=headers,
        )  # fmt: skip
        for dist in (
            wheel("evil", f"1.{number}", **fields),
            sdist("evil", f"1.{number}", **fields),
        ):
            upload(f"{server.url}/alice/dev/", dist, ALICE).raise_for_status()
    return server


def assert_inert(html: str) -> None:
    """Nothing in ``html`` runs: no script element, no handler attribute, no
    ``javascript:`` URL, and the hostile text is shown as text."""
    page = parse_page(html)
    assert "script" not in page.tags
    for tag, name, value in page.attrs:
        assert not name.startswith("on"), (tag, name, value)
        assert not value.strip().lower().startswith("javascript:"), (tag, name, value)
    assert "<script>" not in html


PAGES = ["/", "/alice", "/alice/dev", "/alice/dev/evil"]


@pytest.mark.parametrize("path", PAGES)
def test_listing_pages_show_markup_as_text(site, path):
    html = assert_html(browser_get(site.url + path))
    assert_inert(html)
    if path != "/alice/dev/evil":
        assert EVIL in page_text(html)


@pytest.mark.parametrize("number", range(len(DESCRIPTIONS)), ids=list(DESCRIPTIONS))
def test_version_pages_show_markup_as_text(site, number):
    html = assert_html(browser_get(f"{site.url}/alice/dev/evil/1.{number}"))
    assert_inert(html)
    shown = page_text(html)
    assert EVIL in shown  # summary, author, license and more: shown, not run
    assert "https://fine.example.org/" in links(html)
    assert EVIL_LINK not in links(html)


def test_markdown_renders_and_unrenderable_rst_falls_back_to_text(site):
    markdown = browser_get(f"{site.url}/alice/dev/evil/1.1").text
    assert 'id="user-content-title"' in markdown  # rendered, sanitised
    for number in (0, 4):  # a raw directive, broken markup: the text, escaped
        shown = browser_get(f"{site.url}/alice/dev/evil/1.{number}").text
        assert '<pre class="description">Title' in shown
        assert "&lt;script&gt;" in shown


@pytest.mark.parametrize(
    "path",
    [
        f"/{EVIL}",
        f"/alice/{EVIL}",
        f"/alice/dev/{EVIL}",
        f"/alice/dev/evil/{EVIL}",
        f"/alice/dev/evil/1.0?page={EVIL}",
        f"/alice/dev?page={EVIL}",
        f"/nothing/{EVIL}/x/y/z/w",
        f"/+search?query={EVIL}",
    ],
)
def test_names_and_query_strings_in_urls_are_escaped(site, path):
    reply = browser_get(site.url + path)
    assert reply.status_code < 500
    assert reply.headers["Content-Type"].startswith("text/html")
    assert_inert(reply.text)


def test_an_escaped_slash_redirect_stays_on_the_server(site):
    reply = browser_get(f"{site.url}//evil.example.org/")
    location = reply.headers.get("Location", "")
    assert not location.startswith("//")
    assert "evil.example.org" not in location.split("/")[2:3]
