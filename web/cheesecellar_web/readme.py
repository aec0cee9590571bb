"""The long description as safe HTML (readme-renderer sanitises) and links only to the web."""

from __future__ import annotations

import logging
from email.message import Message
from urllib.parse import urlsplit

import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt
from markupsafe import Markup
from markupsafe import escape

log = logging.getLogger(__name__)

#: Descriptions larger than this are shown as plain text: rendering them costs too much.
RENDER_LIMIT = 512 * 1024


def _content_type(value: str | None) -> tuple[str, str]:
    """``(type, variant)`` of a ``Description-Content-Type``; no value means reST (PyPI's
    default)."""
    if not value:
        return "text/x-rst", ""
    message = Message()
    message["content-type"] = value
    return message.get_content_type(), message.get_param("variant", "") or ""


def render_description(text: str | None, content_type: str | None) -> Markup:
    """HTML for ``text``; escaped plain text when it cannot be rendered."""
    if not text:
        return Markup("")
    kind, variant = _content_type(content_type)
    rendered = None
    if len(text) <= RENDER_LIMIT:
        try:
            rendered = _render(text, kind, variant)
        except Exception:  # a renderer bug must not turn a page into a 500
            log.warning("could not render a long description as %s", kind, exc_info=True)
    if rendered is None:
        return Markup('<pre class="description">') + escape(text) + Markup("</pre>")
    return Markup(rendered)


def _render(text: str, kind: str, variant: str) -> str | None:
    if kind == "text/markdown":
        flavour = "CommonMark" if variant.lower() == "commonmark" else "GFM"
        return readme_renderer.markdown.render(text, variant=flavour)
    if kind == "text/plain":
        return readme_renderer.txt.render(text)
    return readme_renderer.rst.render(text)


def web_url(value) -> str | None:
    """``value`` if it is an http(s) URL with a host, else None (no ``javascript:``)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value
