"""The page cache: reuse while nothing relevant changes, invalidation learned from the
changelog, never a page older than the asking transaction, and the size bound."""

from __future__ import annotations

import hashlib
import io

import pytest

from cheesecellar.model import releases
from cheesecellar.model.indexes import create_index
from cheesecellar.model.indexes import modify_index
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.model.users import create_user_with_hash
from cheesecellar.pagecache import PROJECT_LIST
from cheesecellar.pagecache import PageCache
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.simplepages import SimplePages
from cheesecellar.storage import open_storage

P = "hello-world"


@pytest.fixture(scope="module")
def pm():
    return make_plugin_manager(entry_points=False)


@pytest.fixture(scope="module")
def types(pm):
    return IndexTypeRegistry(pm)


@pytest.fixture
def storage(pm, types, tmp_path):
    """Users ``alice`` and ``root``; ``alice/prod``, ``alice/dev`` (based on prod) and
    ``root/other`` (unrelated); ``hello-world`` 1.0 in ``alice/dev``."""
    storage = open_storage(pm, tmp_path, ("memory", {}))
    with storage.transaction(write=True) as tx:
        for user in ("root", "alice"):
            create_user_with_hash(tx, user, None)
        create_index(tx, types, "alice", "prod", {})
        create_index(tx, types, "alice", "dev", {"bases": "alice/prod"})
        create_index(tx, types, "root", "other", {})
    upload(storage, "alice/dev", "1.0")
    yield storage
    storage.close()


def upload(storage, indexname: str, version: str, project: str = P) -> None:
    content = f"{indexname} {project} {version}".encode()
    with storage.transaction(write=True) as tx:
        releases.set_metadata(tx, indexname, project, version, {"name": project})
        releases.add_file(
            tx, indexname, project, version, f"{project}-{version}.tar.gz", io.BytesIO(content),
            hashlib.sha256(content).hexdigest(), who="alice", volatile=True,
        )  # fmt: skip


class Counting:
    """Builds record their count and the versions the transaction saw."""

    def __init__(self, cache: PageCache) -> None:
        self.cache = cache
        self.builds = 0

    def get(self, tx, indexname: str = "alice/dev", project: str | None = P):
        def build():
            self.builds += 1
            if project is PROJECT_LIST:
                return ("list", self.builds)
            return (tuple(releases.version_strings(tx, indexname, project)), self.builds)

        return self.cache.get(tx, indexname, project, build)

    def read(self, storage, indexname: str = "alice/dev", project: str | None = P):
        with storage.transaction() as tx:
            return self.get(tx, indexname, project)


@pytest.fixture
def pages(storage):
    return Counting(PageCache(storage))


def test_a_page_is_reused_while_nothing_relevant_changes(storage, pages):
    assert pages.read(storage) == (("1.0",), 1)
    assert pages.read(storage) == (("1.0",), 1)
    upload(storage, "alice/dev", "1.0", project="other-project")
    upload(storage, "root/other", "1.0", project="unrelated")
    assert pages.read(storage) == (("1.0",), 1)
    assert pages.builds == 1


def test_a_new_version_rebuilds_the_page(storage, pages):
    pages.read(storage)
    upload(storage, "alice/dev", "2.0")
    assert pages.read(storage) == (("1.0", "2.0"), 2)


def test_an_upload_of_the_name_in_another_index_invalidates(storage, pages):
    pages.read(storage)
    upload(storage, "root/other", "5.0")  # not a base of alice/dev, but the same name
    assert pages.read(storage) == (("1.0",), 2)


def test_an_index_config_change_invalidates_everything(storage, types, pages):
    pages.read(storage)
    pages.read(storage, project=PROJECT_LIST)
    with storage.transaction(write=True) as tx:
        modify_index(tx, types, "root", "other", {"title": "Unrelated"})
    pages.read(storage)
    pages.read(storage, project=PROJECT_LIST)
    assert pages.builds == 4


def test_the_project_list_follows_project_names_only(storage, pages):
    assert pages.read(storage, project=PROJECT_LIST) == ("list", 1)
    upload(storage, "alice/dev", "2.0")  # a new version of a known project
    assert pages.read(storage, project=PROJECT_LIST) == ("list", 1)
    upload(storage, "alice/dev", "1.0", project="new-project")
    assert pages.read(storage, project=PROJECT_LIST) == ("list", 2)
    with storage.transaction(write=True) as tx:
        releases.remove_project(tx, "alice/dev", "new-project", volatile=True, force=False)
    assert pages.read(storage, project=PROJECT_LIST) == ("list", 3)


def test_a_newer_transaction_never_gets_a_page_built_before_its_serial(storage, pages):
    with storage.transaction() as old:
        upload(storage, "alice/dev", "2.0")  # committed after ``old`` took its snapshot
        # The old transaction builds and stores the page it can see...
        assert pages.get(old) == (("1.0",), 1)
    # ...and a transaction at the newer serial must not be given that page.
    assert pages.read(storage) == (("1.0", "2.0"), 2)
    assert pages.read(storage) == (("1.0", "2.0"), 2)


def test_a_change_committed_during_a_build_is_not_hidden(storage):
    cache = PageCache(storage)
    builds = []

    def build_while_uploading(tx):
        def build():
            builds.append(tx.at_serial)
            if len(builds) == 1:
                upload(storage, "alice/prod", "3.0")
            return tx.at_serial

        return build

    with storage.transaction() as tx:
        first = cache.get(tx, "alice/dev", P, build_while_uploading(tx))
    with storage.transaction() as tx:
        second = cache.get(tx, "alice/dev", P, build_while_uploading(tx))
        assert tx.at_serial == first + 1
    assert second == first + 1
    assert builds == [first, first + 1]


def test_the_cache_learns_many_serials_at_once(storage, pages):
    pages.read(storage)
    for version in ("2.0", "3.0", "4.0"):
        upload(storage, "alice/prod", version)
    upload(storage, "root/other", "1.0", project="unrelated")
    assert pages.read(storage) == (("1.0",), 2)
    assert pages.read(storage, "alice/prod") == (("2.0", "3.0", "4.0"), 3)


def test_least_recently_used_pages_are_dropped_beyond_the_bound(storage):
    cache = PageCache(storage, max_pages=2)
    built = []

    def get(project):
        with storage.transaction() as tx:
            return cache.get(tx, "alice/dev", project, lambda: built.append(project) or project)

    get("a")
    get("b")
    get("a")  # "a" is now the most recently used
    get("c")  # evicts "b"
    get("a")
    assert built == ["a", "b", "c"]
    get("b")  # evicts "c", used less recently than "a"
    get("a")
    assert built == ["a", "b", "c", "b"]
    get("c")
    assert built == ["a", "b", "c", "b", "c"]


class TestSimplePages:
    """The cache as the simple pages use it: an inheriting index sees its base's uploads."""

    def test_an_upload_to_a_base_shows_on_the_inheriting_page(self, storage, types):
        simple = SimplePages(storage, types)
        with storage.transaction() as tx:
            assert simple.project(tx, "alice/dev", P).data.versions == ["1.0"]
        upload(storage, "alice/prod", "2.0")
        with storage.transaction() as tx:
            page = simple.project(tx, "alice/dev", P).data
        assert page.versions == ["1.0", "2.0"]
        assert [link.stage for link in page.links] == ["alice/dev", "alice/prod"]

    def test_a_warm_page_is_the_same_object(self, storage, types):
        simple = SimplePages(storage, types)
        with storage.transaction() as tx:
            first = simple.project(tx, "alice/dev", P)
            names = simple.index(tx, "alice/dev")
        with storage.transaction() as tx:
            assert simple.project(tx, "alice/dev", P) is first
            assert simple.index(tx, "alice/dev") is names
        assert names.data == [P]

    def test_a_missing_project_is_none(self, storage, types):
        simple = SimplePages(storage, types)
        with storage.transaction() as tx:
            assert simple.project(tx, "alice/dev", "nope") is None
