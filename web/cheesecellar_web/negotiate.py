"""Who gets HTML: browsers. Everyone else keeps the JSON (or simple page) they asked for."""

from __future__ import annotations

from cheesecellar.views.simple import is_installer

HTML = "text/html"
JSON = "application/json"


def wants_html(request) -> bool:
    """A browser: ``Accept`` names ``text/html`` and ranks it above JSON; pip and uv
    (which also accept HTML) are installers and get simple pages instead."""
    accept = request.headers.get("Accept", "")
    if HTML not in accept or is_installer(request):
        return False
    # Ties go to HTML: browsers list it first and give JSON no higher quality.
    offers = request.accept.acceptable_offers([HTML, JSON])
    return bool(offers) and offers[0][0] == HTML


class BrowserPredicate:
    """View predicate ``browser=True``: the view answers browsers only."""

    def __init__(self, value, config) -> None:
        self.value = bool(value)

    def text(self) -> str:
        return f"browser = {self.value}"

    phash = text

    def __call__(self, context, request) -> bool:
        return wants_html(request) == self.value
