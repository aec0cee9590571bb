"""What keeps the search plugin's memory small: few segments, no stale searchers, no mmap copies."""

from __future__ import annotations

import random
import subprocess
import sys

from cheesecellar_search.backend import Scope
from cheesecellar_search.backend import Searchers
from cheesecellar_search.indexer import WRITER_MB
from cheesecellar_search.indexer import merge_geometric
from cheesecellar_search.schema import owner_key
from cheesecellar_search.schema import project_key
from cheesecellar_search.store import IndexStore


def add_projects(store: IndexStore, first: int, count: int = 1) -> None:
    """One commit adding ``count`` projects, as the indexer commits (merge policy too)."""
    writer = store.ix.writer(limitmb=WRITER_MB)
    for number in range(first, first + count):
        name = f"pkg{number}"
        writer.add_document(
            key=project_key("u/i", name),
            kind="project",
            owner=owner_key("u/i", name),
            index="u/i",
            project=name,
            name=name,
            summary=f"a parser number {number}",
        )
    writer.commit(mergetype=merge_geometric)


def test_commits_of_mixed_sizes_leave_few_segments(tmp_path):
    # whoosh's default policy leaves 7 segments here (10 at most); a search reads each.
    store = IndexStore(tmp_path)
    sizes = random.Random(1).choices([1, 1, 1, 10, 50], k=60)
    most = first = 0
    for size in sizes:
        add_projects(store, first, size)
        first += size
        most = max(most, len(store.ix._segments()))
    assert most <= 4
    assert sum(segment.doc_count() for segment in store.ix._segments()) == sum(sizes)


def test_the_index_is_read_with_file_reads_not_mmap(tmp_path):
    # With mmap, whoosh copies each part of a segment a reader opens out of the mapping.
    assert IndexStore(tmp_path).ix.storage.supports_mmap is False


def test_idle_searchers_of_an_old_index_are_closed_when_it_changes(tmp_path):
    store = IndexStore(tmp_path)
    add_projects(store, 1)
    pool = Searchers(store)
    with pool.searcher() as in_use:
        with pool.searcher() as given_back:
            pass
        add_projects(store, 2)
        pool.changed()
        assert given_back.searcher.is_closed, "idle when the index changed: closed at once"
        assert not in_use.searcher.is_closed, "a searcher in use stays open"
    assert in_use.searcher.is_closed, "given back after the change: closed"
    with pool.searcher() as fresh:
        assert fresh.searcher.doc_count() == 2


def test_index_filters_are_bit_sets_and_bounded(tmp_path):
    store = IndexStore(tmp_path)
    add_projects(store, 0, 3)
    with Searchers(store).searcher() as pooled:
        docs = pooled.filter_for(Scope(["u/i"], []))
        assert sorted(docs) == [0, 1, 2]
        for count in range(40):
            pooled.filter_for(Scope([f"x/{count}"], []))
        assert len(pooled.filters) <= 16


def test_start_up_does_not_import_whoosh():
    code = (
        "import sys\n"
        "import cheesecellar_search\n"
        "from cheesecellar_search.service import SearchService\n"
        "print('whoosh' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
