"""Docs hosting, tox result pages, the status page, the mirror cache view and the search page."""

from __future__ import annotations


def includeme(config) -> None:
    config.include("cheesecellar_web.docviews")
    config.include("cheesecellar_web.toxviews")
    config.include("cheesecellar_web.cachedview")
    config.include("cheesecellar_web.searchpage")
    config.scan("cheesecellar_web.docviews")
    config.scan("cheesecellar_web.toxviews")
    config.scan("cheesecellar_web.cachedview")
    config.scan("cheesecellar_web.searchpage")
    config.scan("cheesecellar_web.statuspage")
