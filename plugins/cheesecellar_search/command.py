"""``cellar search-index``: rebuild the search index of a server directory that is not in use."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cheesecellar.config import ConfigError
from cheesecellar.config import resolve_settings
from cheesecellar.dirlock import DirectoryLock
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.serverdir import is_initialised
from cheesecellar.storage import open_storage

DESCRIPTION = """\
Rebuild the search index of a server directory: every project of every private index and
the pages of its newest documentation. The server must be stopped (a running server
rebuilds its index itself when the index is damaged, and on request through its search
backend). The index lives in SERVERDIR/.search/.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search-index", help="rebuild the search index (server stopped)", description=DESCRIPTION
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the index from scratch")
    parser.add_argument("--serverdir", type=Path, help="server directory (as for 'cellar serve')")
    parser.add_argument("-c", "--configfile", type=Path, help="config file (as for 'cellar serve')")
    parser.set_defaults(func=cmd_search_index)


def cmd_search_index(args, options) -> int:
    if not args.rebuild:
        print("cellar search-index: nothing to do; pass --rebuild", file=sys.stderr)
        return 2
    given = {"serverdir": args.serverdir, "configfile": args.configfile}
    namespace = argparse.Namespace(**{k: v for k, v in given.items() if v is not None})
    try:
        settings = resolve_settings(options["serve"], namespace)
        count, serial, seconds = rebuild_offline(settings, args.pm)
    except ConfigError as exc:
        print(f"cellar search-index: error: {exc}", file=sys.stderr)
        return 1
    print(f"search index rebuilt: {count} documents up to serial {serial} in {seconds:.1f} s")
    return 0


def rebuild_offline(settings, pm) -> tuple[int, int, float]:
    """Rebuild the index of ``settings.serverdir``; return (documents, serial, seconds)."""
    from cheesecellar_search.indexer import Indexer
    from cheesecellar_search.store import IndexStore
    from cheesecellar_search.store import search_dir

    if not is_initialised(settings.serverdir):
        raise ConfigError(f"{settings.serverdir} is not a server directory")
    pm.hook.cellar_configure(settings=settings)
    lock = DirectoryLock(settings.serverdir).acquire()
    try:
        storage = open_storage(pm, settings.serverdir, settings.storage_backend)
        try:
            started = time.monotonic()
            store = IndexStore(search_dir(settings.serverdir))
            indexer = Indexer(storage, IndexTypeRegistry(pm), store, lambda: None)
            indexer.request_rebuild()
            indexer.catch_up()
            with store.ix.searcher() as searcher:
                count = searcher.doc_count()
            return count, store.serial, time.monotonic() - started
        finally:
            storage.close()
    finally:
        lock.release()
