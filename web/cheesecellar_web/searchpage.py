"""``/+search`` for browsers: a form, highlighted and paged results; ``/+searchhelp``."""

from __future__ import annotations

from urllib.parse import urlencode

from pyramid.view import view_config

from cheesecellar.errors import CellarError
from cheesecellar.resources import RootContext
from cheesecellar.search import SearchQueryError
from cheesecellar.search import SearchResults

PER_PAGE = 20
#: Page links shown on each side of the current page.
PAGE_WINDOW = 3
TEMPLATE = "cheesecellar_web:templates/search.jinja2"


def includeme(config) -> None:
    config.add_route("web.searchhelp", "/+searchhelp", factory=RootContext)


def page_links(results: SearchResults) -> list[int | None]:
    """Page numbers to link: the first, the last and a window around the current one;
    None marks a gap."""
    wanted = {1, results.pages}
    wanted.update(range(results.page - PAGE_WINDOW, results.page + PAGE_WINDOW + 1))
    shown: list[int | None] = []
    for number in sorted(n for n in wanted if 1 <= n <= results.pages):
        if shown and shown[-1] is not None and number > shown[-1] + 1:
            shown.append(None)
        shown.append(number)
    return shown


def search_page_number(raw: str | None) -> int:
    try:
        number = int(raw or 1)
    except ValueError:
        raise SearchQueryError(f"the page must be a number, not {raw!r}") from None
    if number < 1:
        raise SearchQueryError("the page must be 1 or more")
    return number


def page_url_maker(request, query: str, indexname: str | None):
    """``page_url(number)``: the URL of another page of the same search."""
    params = {"query": query, **({"index": indexname} if indexname else {})}
    base = request.application_url + "/+search?"
    return lambda number: base + urlencode({**params, "page": number})


def run_search(request, query: str, indexname: str | None) -> dict:
    """What the page shows for ``query``: results, or the message of a bad query."""
    backend = request.registry.cellar_search
    try:
        page = search_page_number(request.GET.get("page"))
        results = backend.search(query, page=page, per_page=PER_PAGE, indexname=indexname)
    except CellarError as exc:  # SearchQueryError, or a backend's own refusal
        if exc.status >= 500:
            raise
        request.response.status_int = exc.status
        return {"error": exc.message}
    return {"results": results, "pages": page_links(results)}


@view_config(route_name="search", request_method="GET", browser=True, renderer=TEMPLATE)
def search_page(request):
    query = (request.GET.get("query") or "").strip()
    indexname = (request.GET.get("index") or "").strip() or None
    found = {"query": query, "indexname": indexname, "title": "Search"}
    found["page_url"] = page_url_maker(request, query, indexname)
    if getattr(request.registry, "cellar_search", None) is None:
        request.response.status_int = 501
        return {**found, "no_backend": True}
    if not query:
        return found
    return {**found, **run_search(request, query, indexname)}


@view_config(
    route_name="web.searchhelp",
    request_method="GET",
    renderer="cheesecellar_web:templates/search_help.jinja2",
)
def search_help(request):
    return {"title": "How to search"}
