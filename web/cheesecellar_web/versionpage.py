"""The version page's parts: metadata fit for showing, the install command."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cheesecellar_web.readme import render_description
from cheesecellar_web.readme import web_url

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value if item]


def _keywords(value) -> list[str]:
    if isinstance(value, str):
        separator = "," if "," in value else None
        return [word.strip() for word in value.split(separator) if word.strip()]
    return _as_list(value)


def project_urls(value) -> list[tuple[str, str | None]]:
    """``(label, url or None)``: a URL that is not http(s) is shown as text only."""
    if isinstance(value, dict):
        pairs = list(value.items())
    else:
        pairs = [tuple(item.split(",", 1)) for item in _as_list(value) if "," in item]
    return [(str(label).strip(), web_url(url)) for label, url in pairs]


def metadata(verdata: dict) -> dict[str, Any]:
    """What the page shows of a version's metadata, URLs checked."""
    home = verdata.get("home_page")
    return {
        "summary": verdata.get("summary") or "",
        "author": verdata.get("author") or "",
        "author_email": verdata.get("author_email") or "",
        "maintainer": verdata.get("maintainer") or "",
        "license": verdata.get("license_expression") or verdata.get("license") or "",
        "home_page": home or "",
        "home_page_url": web_url(home),
        "download_url": web_url(verdata.get("download_url")),
        "project_urls": project_urls(verdata.get("project_urls")),
        "requires_python": verdata.get("requires_python") or "",
        "requires_dist": _as_list(verdata.get("requires_dist")),
        "classifiers": _as_list(verdata.get("classifiers")),
        "keywords": _keywords(verdata.get("keywords")),
        "description_html": render_description(
            verdata.get("description"), verdata.get("description_content_type")
        ),
    }


def pip_command(simple_url: str, name: str, version: str) -> str:
    """The install command; pip refuses plain http to any host but this machine unless
    it is named a trusted host."""
    parts = urlsplit(simple_url)
    command = f"pip install -i {simple_url}"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        command += f" --trusted-host {parts.hostname}"
    return f"{command} {name}=={version}"
