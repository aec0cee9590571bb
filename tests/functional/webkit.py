"""Helpers for tests of the web pages: ask like a browser, read what a page shows."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import requests

#: What Firefox and Chromium send for a page load.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
BROWSER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
BROWSER_HEADERS = {"Accept": BROWSER_ACCEPT, "User-Agent": BROWSER_AGENT}


def browser_get(url: str, **kw) -> requests.Response:
    """GET ``url`` as a browser would (redirects are not followed unless asked)."""
    headers = {**BROWSER_HEADERS, **kw.pop("headers", {})}
    kw.setdefault("allow_redirects", False)
    kw.setdefault("timeout", 30)
    return requests.get(url, headers=headers, **kw)


def browser_post(url: str, data=None, **kw) -> requests.Response:
    """POST a form as a browser would."""
    headers = {**BROWSER_HEADERS, **kw.pop("headers", {})}
    kw.setdefault("allow_redirects", False)
    kw.setdefault("timeout", 30)
    return requests.post(url, data=data, headers=headers, **kw)


def assert_html(reply: requests.Response, status: int = 200) -> str:
    """The page's text, after checking the status, type and ``Vary: Accept``."""
    assert reply.status_code == status, (reply.status_code, reply.text[:500])
    assert reply.headers["Content-Type"].startswith("text/html"), reply.headers
    assert "Accept" in [v.strip() for v in reply.headers.get("Vary", "").split(",")]
    return reply.text


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        found = dict(attrs)
        self.attrs += [(tag, name, value or "") for name, value in attrs]
        if tag == "a" and "href" in found:
            self.links.append(found["href"] or "")
        if tag == "form":
            self.forms.append(((found.get("method") or "get").lower(), found.get("action") or ""))

    def handle_data(self, data):
        self.text.append(data)


def parse_page(html: str) -> _Collector:
    """Links, forms, tag names, attributes and text of a page."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector


def page_text(html: str) -> str:
    """The page's visible text, whitespace collapsed."""
    return re.sub(r"\s+", " ", " ".join(parse_page(html).text)).strip()


def tag_names(html: str) -> set[str]:
    return set(parse_page(html).tags)


def links(html: str) -> list[str]:
    return parse_page(html).links
