"""Cross-cutting request handling: one transaction per request, devpi headers on replies."""

from __future__ import annotations

from cheesecellar import __version__
from cheesecellar import formdata
from cheesecellar.interfaces import IStorage

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _RollBack(Exception):
    def __init__(self, response) -> None:
        self.response = response


def transaction_tween_factory(handler, registry):
    """Read requests get a snapshot; other methods get the single writer.

    A write is committed only when the response is a success: an error response, raised
    or returned, rolls everything back, so bad input never changes anything. An upload's
    form is parsed before the writer is taken, so the writer waits only for the work
    that needs it.
    """
    storage = registry.getUtility(IStorage)

    def transaction_tween(request):
        write = request.method not in READ_METHODS
        if write:
            formdata.parse_early(request)
        committed = []
        try:
            with storage.transaction(write=write) as tx:
                request.tx = tx
                request.cellar_serial = tx.at_serial
                tx.on_commit(committed.append)
                response = handler(request)
                if write and response.status_code >= 400:
                    raise _RollBack(response)
        except _RollBack as rollback:
            return rollback.response
        if committed:
            request.cellar_serial = committed[0]
        return response

    return transaction_tween


def headers_tween_factory(handler, registry):
    """Add the ``X-Devpi-*`` headers that devpi-client checks to every response."""
    storage = registry.getUtility(IStorage)
    names = frozenset(
        {
            "x-devpi-api-version",
            "x-devpi-server-version",
            "x-devpi-uuid",
            "x-devpi-primary-uuid",
            "x-devpi-master-uuid",
            "x-devpi-serial",
        }
    )
    known = [(None, ())]  # the node info the fixed headers were made from, and them

    def fixed_headers() -> tuple:
        # A replica learns its primary's uuid on first contact (a new node info).
        node = registry.cellar_nodeinfo
        made_from, fixed = known[0]
        if node is not made_from:
            primary_uuid = node.primary_uuid or node.uuid
            fixed = (
                ("X-Devpi-Api-Version", "2"),
                ("X-Devpi-Server-Version", __version__),
                ("X-Devpi-Uuid", node.uuid),
                ("X-Devpi-Primary-Uuid", primary_uuid),
                ("X-Devpi-Master-Uuid", primary_uuid),
            )
            known[0] = node, fixed
        return fixed

    def headers_tween(request):
        response = handler(request)
        serial = getattr(request, "cellar_serial", None)
        headerlist = response.headerlist
        if any(name.lower() in names for name, _ in headerlist):
            # A view set one of them itself: replace it, as a header assignment would.
            headerlist[:] = [item for item in headerlist if item[0].lower() not in names]
        # Appending to the list skips webob's search-and-replace for each header.
        headerlist.extend(fixed_headers())
        headerlist.append(
            ("X-Devpi-Serial", str(storage.last_serial() if serial is None else serial))
        )
        return response

    return headers_tween
