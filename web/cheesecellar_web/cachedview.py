"""``/{user}/{index}/+cached``: what a mirror index has cached, as a page or as JSON."""

from __future__ import annotations

from pyramid.view import view_config

from cheesecellar.errors import NotFound
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.model import indexes
from cheesecellar.resources import IndexContext
from cheesecellar.routes import INDEX
from cheesecellar.routes import USER
from cheesecellar.views import envelope
from cheesecellar_web.cached import PER_PAGE
from cheesecellar_web.cached import CachedOverview
from cheesecellar_web.cached import cached_overview
from cheesecellar_web.cached import page_number


def includeme(config) -> None:
    config.add_route("web.cached", f"/{USER}/{INDEX}/+cached", factory=IndexContext)


def overview(context, request) -> CachedOverview:
    config = indexes.require_index(request.tx, context.username, context.indexname)
    if not request.registry.getUtility(IIndexTypes).get(config["type"]).is_mirror:
        raise NotFound(f"{context.name} is not a mirror index; only mirror indexes cache")
    page = page_number(request.GET.get("page"))
    return cached_overview(request.tx, context.name, page)


@view_config(
    route_name="web.cached",
    request_method="GET",
    browser=True,
    renderer="cheesecellar_web:templates/cached.jinja2",
)
def cached_page(context, request):
    found = overview(context, request)
    app = request.application_url
    crumbs = [
        (context.username, f"{app}/{context.username}"),
        (context.indexname, f"{app}/{context.name}"),
        ("cached", ""),
    ]
    return {
        "found": found,
        "index_url": f"{app}/{context.name}",
        "page_url": f"{app}/{context.name}/+cached?page=",
        "file_url": f"{app}/",
        "per_page": PER_PAGE,
        "crumbs": crumbs,
    }


@view_config(route_name="web.cached", request_method="GET", renderer="cellarjson")
def cached_json(context, request):
    found = overview(context, request)
    request.response.vary = ["Accept"]
    app = request.application_url
    return envelope(request, "cachedlist", found.as_json(lambda relpath: f"{app}/{relpath}"))
