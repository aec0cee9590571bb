"""The built-in search backend: whoosh for private projects, stored name lists for mirrors."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh import query as wq
from whoosh.idsets import BitSet
from whoosh.index import EmptyIndexError

from cheesecellar.errors import CellarError
from cheesecellar.errors import NotFound
from cheesecellar.model import keys
from cheesecellar.model.indexes import sro
from cheesecellar.search import SearchHit
from cheesecellar.search import SearchQueryError
from cheesecellar.search import SearchResults
from cheesecellar_search import query as queries
from cheesecellar_search.documents import is_private
from cheesecellar_search.hits import mirror_hit
from cheesecellar_search.hits import whoosh_hit
from cheesecellar_search.indexer import Indexer
from cheesecellar_search.mirrornames import MirrorNames
from cheesecellar_search.paging import Window
from cheesecellar_search.paging import check_paging
from cheesecellar_search.store import IndexStore
from cheesecellar_search.store import search_dir

log = logging.getLogger(__name__)

#: Projects a legacy ``pip search`` gets at most from the private indexes.
LEGACY_LIMIT = 100
#: Searchers kept open: each holds the index's readers, and search is CPU-bound anyway.
POOL_SIZE = 4
#: Index filters (the private indexes of one search scope) kept per pooled searcher.
MAX_FILTERS = 16


class Scope:
    """The indexes a search looks at: private ones (whoosh) and mirrors (names)."""

    def __init__(self, private: list[str] | None, mirrors: list[tuple[str, dict]]) -> None:
        self.private = private  # None: every private index
        self.mirrors = mirrors

    def whoosh_filter(self) -> wq.Query | None:
        if self.private is None:
            return None
        return wq.Or([wq.Term("index", name) for name in self.private])


class Searchers:
    """A few whoosh searchers shared by the request threads (each one holds the
    index's readers in memory, so not one per thread), reopened after the index changed."""

    def __init__(self, store: IndexStore, size: int = POOL_SIZE) -> None:
        self.store = store
        self.generation = 0
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def changed(self) -> None:
        """The index has a new commit: close the idle searchers of the old one now (each
        holds open files of segments a merge may have deleted); busy ones close when
        they are given back."""
        self.generation += 1
        while True:
            try:
                _generation, found, _filters = self._idle.get_nowait()
            except queue.Empty:
                return
            if found is not None:
                found.close()

    @contextlib.contextmanager
    def searcher(self) -> Iterator:
        """A searcher of the newest committed index, for this thread until the block ends."""
        with self._slots:
            try:
                generation, found, filters = self._idle.get_nowait()
            except queue.Empty:
                generation, found, filters = -1, None, {}
            if generation != self.generation:
                if found is not None:
                    found.close()
                generation, found, filters = self.generation, self._open(), {}
            try:
                yield Pooled(found, filters)
            finally:
                if generation == self.generation:
                    self._idle.put((generation, found, filters))
                else:
                    found.close()

    def _open(self):
        for _attempt in range(3):
            ix = self.store.ix
            try:
                return ix.searcher()
            except (EmptyIndexError, OSError):
                if ix is self.store.ix:
                    raise
                # a rebuild switched directories between reading store.ix and opening it
        return self.store.ix.searcher()


class Pooled:
    """A pooled searcher with the document sets of the index filters it has computed."""

    def __init__(self, searcher, filters: dict) -> None:
        self.searcher = searcher
        self.filters = filters

    def filter_for(self, scope: Scope):
        if scope.private is None:
            return None
        key = tuple(scope.private)
        if key not in self.filters:
            if len(self.filters) >= MAX_FILTERS:
                self.filters.clear()
            docs = self.searcher.docs_for_query(scope.whoosh_filter())
            # A bit per document: a set would take about 60 bytes per document.
            self.filters[key] = BitSet(docs, size=self.searcher.doc_count_all())
        return self.filters[key]


class WhooshSearch:
    """:class:`cheesecellar.search.SearchBackend` over a whoosh index in the server
    directory, kept up to date by an :class:`Indexer` thread."""

    def __init__(self, storage, types, serverdir: Path) -> None:
        self.storage = storage
        self.types = types
        self.store = IndexStore(search_dir(serverdir))
        self.searchers = Searchers(self.store)
        self.indexer = Indexer(storage, types, self.store, self.searchers.changed)
        self.parser = queries.make_parser(self.store.ix.schema)
        self.mirror_names = MirrorNames(storage)

    def start(self) -> None:
        self.indexer.start()

    def close(self) -> None:
        self.indexer.stop()

    # --- the SearchBackend protocol ---------------------------------------------------

    def search(
        self, query: str, *, page: int = 1, per_page: int = 20, indexname: str | None = None
    ) -> SearchResults:
        page, per_page = check_paging(page, per_page)
        parsed = queries.parse(self.parser, query)
        with self.storage.transaction() as tx:
            scope = self.scope(tx, indexname)
            mirrored = self._mirror_hits(tx, scope, parsed.words, parsed.exact, parsed.all_words)
        firsts, others = mirrored
        window = Window(page, per_page)
        with self.searchers.searcher() as pooled:
            queries.check_expansion(parsed.query, pooled.searcher.reader())
            private, exact = self._private(pooled, parsed, scope, window.limit)
            segments = [
                (private, 0, exact),
                (firsts, 0, len(firsts)),
                (private, exact, len(private)),
                (others, 0, len(others)),
            ]
            hits = [self._convert(hit) for hit in window.take(segments)]
            total = len(private) + len(firsts) + len(others)
        return SearchResults(parsed.text, page, per_page, total, tuple(hits))

    def _private(self, pooled, parsed, scope: Scope, limit: int):
        """The ranked private hits and how many of the first have exactly the name."""
        if scope.private == []:
            return [], 0
        flt = pooled.filter_for(scope)
        private = self._run(pooled.searcher, parsed.query, flt, limit)
        return private, min(self._exact_count(pooled.searcher, parsed.exact, flt), len(private))

    def search_fields(
        self, fields: dict[str, list[str]], operator: str, indexname: str | None = None
    ) -> list[SearchHit]:
        from cheesecellar_search.legacy import fields_query
        from cheesecellar_search.legacy import name_words

        combined = fields_query(self.store.ix.schema, fields, operator)
        words, exact = name_words(fields)
        with self.storage.transaction() as tx:
            scope = self.scope(tx, indexname)
            mirrored = self._mirror_hits(tx, scope, words, exact)
        mirrored = [*mirrored[0], *mirrored[1]]
        if combined is None or scope.private == []:
            return mirrored
        only_projects = wq.And([combined, wq.Term("kind", "project")])
        with self.searchers.searcher() as pooled:
            results = self._run(
                pooled.searcher, only_projects, pooled.filter_for(scope), LEGACY_LIMIT
            )
            return [whoosh_hit(hit) for hit in results] + mirrored

    def status(self) -> dict[str, Any]:
        indexer = self.indexer
        return {
            "indexed-serial": max(self.store.serial, -1),
            "queued": indexer.queued,
            "building": indexer.building or self.store.serial < -1,
            "errors": indexer.errors,
            "failing": indexer.failing,
            "last-error": indexer.last_error,
            "last-error-at": indexer.last_error_at,
            "documents": self._documents(),
            "mirror-names-mapped": self.mirror_names.mapped(),
        }

    def rebuild(self) -> None:
        self.indexer.request_rebuild()

    def _documents(self) -> int:
        with self.searchers.searcher() as pooled:
            return pooled.searcher.doc_count()

    # --- helpers ------------------------------------------------------------------------

    def scope(self, tx, indexname: str | None) -> Scope:
        if indexname is None:
            mirrors = []
            for key in tx.keys(keys.INDEX_PREFIX):
                config = tx.get(key)
                if config is not None and self._is_mirror(config):
                    mirrors.append((key[len(keys.INDEX_PREFIX) :], config))
            return Scope(None, mirrors)
        user, _, index = indexname.partition("/")
        if not index or tx.get(keys.index(user, index)) is None:
            raise NotFound(f"index {indexname} does not exist")
        private, mirrors = [], []
        for name, config in sro(tx, self.types, indexname):
            if is_private(self.types, config):
                private.append(name)
            elif self._is_mirror(config):
                mirrors.append((name, config))
        return Scope(private, mirrors)

    def _is_mirror(self, config: dict) -> bool:
        try:
            return self.types.get(config.get("type")).is_mirror
        except CellarError:
            return False

    def _mirror_hits(self, tx, scope: Scope, words, exact, all_words=False) -> tuple[list, list]:
        """Mirror names matching exactly, and the others."""
        firsts, others = [], []
        for name, config in scope.mirrors:
            for match in self.mirror_names.lookup(tx, name, config, words, exact, all_words):
                hit = mirror_hit(name, match.name, match.how)
                (firsts if match.how == "exact" else others).append(hit)
        return firsts, others

    def _exact_count(self, searcher, exact: str | None, flt) -> int:
        if exact is None:
            return 0
        found = wq.And([wq.Term("name_exact", exact), wq.Term("kind", "project")])
        return len(searcher.search(found, filter=flt, limit=None))

    def _run(self, searcher, query, flt, limit: int):
        try:
            return searcher.search(query, filter=flt, limit=max(limit, 1), terms=True)
        except SearchQueryError:
            raise
        except Exception as exc:  # a damaged index: rebuild it, answer 503 meanwhile
            log.exception("search failed; rebuilding the index")
            self.rebuild()
            raise CellarError("the search index is being rebuilt; try again soon", 503) from exc

    def _convert(self, hit) -> SearchHit:
        return hit if isinstance(hit, SearchHit) else whoosh_hit(hit)
