"""Replies of a replica about files it has not got from its primary yet."""

from __future__ import annotations

from cheesecellar.views.errors import error_response


def blob_pending(exc, request):
    """A file the changelog names whose content the primary could not deliver (yet)."""
    return error_response(
        request,
        502,
        f"the replica has not got {exc} from its primary yet, "
        "and the primary could not deliver it now; try again later",
    )
