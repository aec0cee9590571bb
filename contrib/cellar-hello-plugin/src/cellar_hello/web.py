"""The hello plugin's web part: ``GET /+hello``."""

from __future__ import annotations

ROUTE = "hello.greeting"


def includeme(config) -> None:
    # A "+" first segment keeps the route clear of user names.
    config.add_route(ROUTE, "/+hello")
    config.add_view(hello, route_name=ROUTE, request_method="GET", renderer="json")


def hello(request) -> dict:
    """The greeting and the serial this request read at (as in ``X-Devpi-Serial``)."""
    settings = request.registry.cellar_settings
    return {
        "greeting": settings.plugin("hello_greeting", "hello"),
        "serial": request.tx.at_serial,
    }
