"""What every page shares: static files, the layout's globals and ``Vary: Accept``."""

from __future__ import annotations

from urllib.parse import quote

from pyramid.events import BeforeRender
from pyramid.events import NewResponse

from cheesecellar import __version__

SERVER_NAME = "cheesecellar"
#: The version is part of the static URL, so an upgrade never meets a stale cached file.
STATIC_PREFIX = f"+static/{__version__}"
STATIC_MAX_AGE = 365 * 24 * 3600
#: Core routes whose URL answers JSON to API clients and HTML to browsers.
NEGOTIATED_ROUTES = frozenset({"root", "user", "index", "project", "version", "status", "search"})


def server_url(request, *segments: str) -> str:
    """An absolute URL on this server from unquoted path segments (``+`` stays as is)."""
    return request.application_url + "".join("/" + quote(s, safe="+") for s in segments)


class PageGlobals:
    """``web`` in every template: the server's name, version and its fixed URLs."""

    server_name = SERVER_NAME
    version = __version__

    def __init__(self, request) -> None:
        self.request = request
        self.root_url = request.application_url + "/"
        self.search_url = request.application_url + "/+search"
        self.status_url = request.application_url + "/+status"

    def static_url(self, name: str) -> str:
        return f"{self.request.application_url}/{STATIC_PREFIX}/{quote(name)}"

    def url(self, *segments: str) -> str:
        return server_url(self.request, *segments)

    @staticmethod
    def size(size) -> str:
        return human_size(size)

    @staticmethod
    def when(stamp) -> str:
        return short_time(stamp)

    def index_url(self, indexname: str, *segments: str) -> str:
        """The URL of ``user/index`` or of a page below it."""
        return self.url(*indexname.split("/", 1), *segments)


def human_size(size) -> str:
    """``1.5 MiB``; empty for an unknown size."""
    if not isinstance(size, int):
        return ""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def short_time(stamp) -> str:
    """``2026-01-31 12:00 UTC`` from a stored ISO time; other values as text."""
    if not isinstance(stamp, str):
        return ""
    if len(stamp) >= 16 and stamp[10:11] == "T":
        return stamp[:10] + " " + stamp[11:16] + " UTC"
    return stamp


def add_page_globals(event) -> None:
    request = event.get("request")
    if request is not None and "web" not in event:
        event["web"] = PageGlobals(request)


def add_vary_accept(event) -> None:
    """Caches must keep a page and the JSON of the same URL apart."""
    request, response = event.request, event.response
    route = request.matched_route
    negotiated = route is not None and route.name in NEGOTIATED_ROUTES
    if negotiated or response.content_type == "text/html":
        vary = list(response.vary or ())
        if "Accept" not in vary:
            response.vary = [*vary, "Accept"]


def includeme(config) -> None:
    config.add_static_view(
        name=STATIC_PREFIX, path="cheesecellar_web:static", cache_max_age=STATIC_MAX_AGE
    )
    config.add_subscriber(add_page_globals, BeforeRender)
    config.add_subscriber(add_vary_accept, NewResponse)
