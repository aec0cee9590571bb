"""``POST /{user}/{index}/+f/{relpath}``: a tox result for the release file at that path."""

from __future__ import annotations

from pyramid.view import view_config

from cheesecellar.errors import Forbidden
from cheesecellar.errors import NotFound
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.model import indexes
from cheesecellar.views import envelope
from cheesecellar.views import message
from cheesecellar_toxresults.store import find_release_file
from cheesecellar_toxresults.store import store_toxresult
from cheesecellar_toxresults.validate import max_size
from cheesecellar_toxresults.validate import parse_toxresult
from cheesecellar_toxresults.validate import read_body

#: The answer when a plugin skips storing and gives no message of its own.
SKIPPED = "tox result accepted but not stored"


def check_release_file(context, request, relpath: str) -> tuple[str, str, dict]:
    """The release file at ``relpath``, after the caller's permission to post results."""
    config = indexes.require_index(request.tx, context.username, context.indexname)
    takes_uploads = request.registry.getUtility(IIndexTypes).get(config["type"]).accepts_uploads
    if takes_uploads and not request.has_permission("toxresult_upload"):
        raise Forbidden(
            f"no permission to upload tox results to {context.name}; "
            "run the tests with --no-upload to skip the upload"
        )
    found = find_release_file(request.tx, relpath) if takes_uploads else None
    if found is None:
        raise NotFound(f"no release file found at {relpath}")
    return found


@view_config(route_name="files", request_method="POST", renderer="cellarjson")
def toxresult_upload(context, request):
    relpath = f"{context.name}/+f/{request.matchdict['relpath']}"
    found = check_release_file(context, request, relpath)
    raw = read_body(request, max_size(request))
    toxresult = parse_toxresult(raw)
    hook = request.registry.cellar_pm.hook.cellar_on_toxresult_store
    skipped = hook(request=request, toxresult=toxresult, relpath=relpath)
    if skipped is not None:
        return message(request, str(skipped) or SKIPPED)
    who = request.authenticated_userid
    entry = store_toxresult(request.tx, context.name, found, raw, who)
    result = f"{entry['relpath']}#sha256={entry['hashes']['sha256']}"
    return envelope(request, "toxresultpath", result)
