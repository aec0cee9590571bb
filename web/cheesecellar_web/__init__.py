"""The web UI: HTML pages for browsers on the same URLs as the JSON API (built-in plugin)."""

from __future__ import annotations

from cheesecellar import hookimpl
from cheesecellar_web.negotiate import BrowserPredicate


@hookimpl
def cellar_pyramid_configure(config):
    config.include("pyramid_jinja2")
    config.add_view_predicate("browser", BrowserPredicate)
    config.include("cheesecellar_web.layout")
    config.include("cheesecellar_web.pages")
    config.include("cheesecellar_web.errorpages")
    config.include("cheesecellar_web.extras")
