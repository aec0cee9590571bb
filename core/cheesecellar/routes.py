"""The URL layout of the core API (devpi's), as named routes."""

from __future__ import annotations

from cheesecellar.resources import IndexContext
from cheesecellar.resources import RootContext
from cheesecellar.resources import UserContext

# Without the web UI, user and index URLs work with or without a trailing slash.
SLASH = "{_slash:/?}"
# A segment starting with "+" is reserved (/+api, /+login, plugin routes such as /+hello).
USER = "{user:[^+/][^/]*}"
INDEX = "{index:[^+/][^/]*}"
PROJECT = "{project:[^+/][^/]*}"


def includeme(config) -> None:
    config.add_route("status", "/+status", factory=RootContext)
    config.add_route("api", "/+api", factory=RootContext)
    config.add_route("login", "/+login", factory=RootContext)
    config.add_route("search", "/+search", factory=RootContext)
    config.add_route("user.api", "/{user}/+api", factory=UserContext)
    config.add_route("index.api", "/{user}/{index}/+api", factory=IndexContext)
    config.add_route("simple.index", f"/{USER}/{INDEX}/+simple{SLASH}", factory=IndexContext)
    config.add_route(
        "simple.project", f"/{USER}/{INDEX}/+simple/{{project}}{SLASH}", factory=IndexContext
    )
    config.add_route("files", f"/{USER}/{INDEX}/+f/{{relpath:.+}}", factory=IndexContext)
    config.add_route("root", "/", factory=RootContext)
    config.add_route("user", f"/{USER}{SLASH}", factory=UserContext)
    config.add_route("index", f"/{USER}/{INDEX}{SLASH}", factory=IndexContext)
    config.add_route("project", f"/{USER}/{INDEX}/{PROJECT}{SLASH}", factory=IndexContext)
    config.add_route(
        "version",
        f"/{USER}/{INDEX}/{PROJECT}/{{version:[^+/][^/]*}}{SLASH}",
        factory=IndexContext,
    )
