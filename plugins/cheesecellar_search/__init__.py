"""Search of private projects and their documentation with whoosh (built-in plugin)."""

from __future__ import annotations

from cheesecellar import hookimpl
from cheesecellar.interfaces import IIndexTypes
from cheesecellar.interfaces import IStorage


def _ours(registry):
    from cheesecellar_search.service import SearchService

    backend = getattr(registry, "cellar_search", None)
    return backend if isinstance(backend, SearchService) else None


@hookimpl(trylast=True)
def cellar_get_search_backend(registry):
    from cheesecellar_search.service import SearchService

    backend = SearchService(
        registry.getUtility(IStorage),
        registry.getUtility(IIndexTypes),
        registry.cellar_settings.serverdir,
    )
    backend.start()
    return backend


@hookimpl
def cellar_shutdown(registry):
    backend = _ours(registry)
    if backend is not None:
        backend.close()


@hookimpl
def cellar_register_commands(subparsers):
    from cheesecellar_search.command import register

    register(subparsers)


@hookimpl
def cellar_metrics(registry):
    backend = _ours(registry)
    if backend is None:
        return None
    status = backend.status()
    return [
        ("cellar_search_indexed_serial", "gauge", status["indexed-serial"]),
        ("cellar_search_queued", "gauge", status["queued"]),
        ("cellar_search_errors", "counter", status["errors"]),
        ("cellar_search_documents", "gauge", status["documents"]),
    ]


@hookimpl
def cellar_status_info(registry):
    backend = _ours(registry)
    if backend is None:
        return None
    status = backend.status()
    messages = []
    if status["building"]:
        messages.append({"status": "warn", "msg": "the search index is being built"})
    if status["failing"]:
        messages.append({"status": "warn", "msg": f"search indexer: {status['last-error']}"})
    return messages
