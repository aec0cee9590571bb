"""The searchable text of a documentation page: its title and its visible body text."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

#: Characters of body text kept for one page; the rest of a huge page is not searched.
MAX_TEXT = 100_000
#: Elements whose content is never text a reader sees.
_HIDDEN = frozenset({"script", "style", "template", "noscript", "svg"})
_BREAKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre"})
_SPACE = re.compile(r"\s+")
PAGE_SUFFIXES = (".html", ".htm", ".fjson")


class _TextExtractor(HTMLParser):
    """Collects the text outside hidden elements, and the ``<title>`` (or first ``<h1>``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden_depth = 0
        self.parts: list[str] = []
        self.size = 0
        self.title: list[str] = []
        self.h1: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _HIDDEN:
            self.hidden_depth += 1
        elif tag in ("title", "h1") and self._in is None:
            self._in = tag
        if tag in _BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and self.hidden_depth:
            self.hidden_depth -= 1
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title.append(data)
            return
        if self.hidden_depth or self.size > MAX_TEXT:
            return
        if self._in == "h1" and not self.h1:
            self.h1.append(data)
        self.parts.append(data)
        self.size += len(data)


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def html_text(markup: str) -> tuple[str, str]:
    """``(title, text)`` of an HTML page; scripts, styles and markup left out."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = _squash("".join(parser.parts))[:MAX_TEXT]
    title = _squash("".join(parser.title)) or _squash("".join(parser.h1))
    return title, text


def fjson_text(data: bytes) -> tuple[str, str] | None:
    """``(title, text)`` of a Sphinx JSON page (``.fjson``), or None if it is not one."""
    try:
        page = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(page, dict) or not isinstance(page.get("body"), str):
        return None
    title = page.get("title") if isinstance(page.get("title"), str) else ""
    return html_text(title)[1], html_text(page["body"])[1]


def page_text(path: str, data: bytes) -> tuple[str, str] | None:
    """``(title, text)`` of a doc zip member, or None for members that are not pages."""
    lowered = path.lower()
    if lowered.endswith(".fjson"):
        return fjson_text(data)
    if not lowered.endswith((".html", ".htm")):
        return None
    title, text = html_text(data.decode("utf-8", errors="replace"))
    return title or path.rsplit("/", 1)[-1], text
