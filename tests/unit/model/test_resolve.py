"""Resolution: stage order with mirrors last, whitelist shadowing protection (spec 3.5),
mirrors never asked for private names, cycles in bases."""

from __future__ import annotations

import pytest

from cheesecellar import hookimpl
from cheesecellar.model import keys
from cheesecellar.model import releases
from cheesecellar.model.indexes import create_index
from cheesecellar.model.indexes import sro
from cheesecellar.model.indextypes import IndexType
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.model.resolve import project_names
from cheesecellar.model.resolve import resolve
from cheesecellar.model.users import create_user_with_hash
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage import open_storage

P = "hello-world"


class RecordingMirror:
    """A mirror reader that holds fixed project names and records what it was asked."""

    def __init__(self) -> None:
        self.projects: dict[str, set[str]] = {}
        self.asked: list[tuple[str, str]] = []

    def has_project(self, tx, indexname, config, project):
        self.asked.append((indexname, project))
        return project in self.projects.get(indexname, ())

    def project_names(self, tx, indexname, config):
        return sorted(self.projects.get(indexname, ()))


class FakeMirrorPlugin:
    def __init__(self, reader) -> None:
        self.reader = reader

    @hookimpl
    def cellar_register_index_types(self, registry):
        registry.add(
            IndexType(
                name="fakemirror",
                keys=(),
                accepts_uploads=False,
                is_mirror=True,
                reader=self.reader,
            )
        )


@pytest.fixture
def mirror():
    return RecordingMirror()


@pytest.fixture
def types(mirror):
    pm = make_plugin_manager(extra=[FakeMirrorPlugin(mirror)], entry_points=False)
    return IndexTypeRegistry(pm)


@pytest.fixture
def tx(tmp_path):
    storage = open_storage(make_plugin_manager(entry_points=False), tmp_path, ("memory", {}))
    with storage.transaction(write=True) as tx:
        for user in ("root", "alice"):
            create_user_with_hash(tx, user, None)
        yield tx
    storage.close()


def make(tx, types, name: str, **config) -> str:
    user, _, index = name.partition("/")
    create_index(tx, types, user, index, config)
    return name


def make_mirror(tx, types, mirror, name: str, *projects: str) -> str:
    make(tx, types, name, type="fakemirror")
    mirror.projects[name] = set(projects)
    return name


def host(tx, indexname: str, project: str = P) -> None:
    releases.set_metadata(tx, indexname, project, "1.0", {"name": project})


def raw_index(tx, name: str, **config) -> None:
    """Store an index record as it is, without the validation that refuses cycles."""
    user, _, index = name.partition("/")
    tx.set(keys.index(user, index), {"type": "stage", "volatile": True, **config})


class TestOrder:
    @pytest.fixture
    def deep(self, tx, types, mirror):
        """Mirrors hang off every level; ``alice/d`` names ``root/m1`` a second time."""
        for name in ("root/m1", "root/m2", "root/m3"):
            make_mirror(tx, types, mirror, name, P)
        make(tx, types, "alice/d", bases="root/m1")
        make(tx, types, "alice/c", bases="root/m3,alice/d")
        make(tx, types, "alice/b", bases="alice/c,root/m2")
        make(tx, types, "alice/a", bases="root/m1,alice/b", mirror_whitelist="*")
        return ["alice/a", "alice/b", "alice/c", "alice/d", "root/m1", "root/m2", "root/m3"]

    def test_sro_puts_mirrors_after_every_stage_at_any_depth(self, tx, types, deep):
        assert [name for name, _config in sro(tx, types, "alice/a")] == deep

    def test_resolve_follows_the_order(self, tx, types, deep):
        for name in deep[:4]:
            host(tx, name)
        resolution = resolve(tx, types, "alice/a", P)
        assert [hit.name for hit in resolution.hits] == deep
        assert [hit.is_mirror for hit in resolution.hits] == [False] * 4 + [True] * 3
        assert resolution.blocked_mirrors == []

    def test_a_private_name_deep_down_blocks_every_mirror(self, tx, types, mirror, deep):
        raw_index(tx, "alice/a", bases=["root/m1", "alice/b"])  # no whitelist now
        host(tx, "alice/d")
        resolution = resolve(tx, types, "alice/a", P)
        assert [hit.name for hit in resolution.hits] == ["alice/d"]
        assert resolution.blocked_mirrors == ["root/m1", "root/m2", "root/m3"]
        assert mirror.asked == []

    def test_a_missing_base_is_skipped(self, tx, types):
        make(tx, types, "alice/prod")
        make(tx, types, "alice/dev", bases="alice/prod")
        tx.delete(keys.index("alice", "prod"))
        host(tx, "alice/dev")
        assert [hit.name for hit in resolve(tx, types, "alice/dev", P).hits] == ["alice/dev"]

    def test_an_index_without_the_project_has_no_hits(self, tx, types, mirror):
        make_mirror(tx, types, mirror, "root/pypi", "other")
        make(tx, types, "alice/dev", bases="root/pypi")
        resolution = resolve(tx, types, "alice/dev", P)
        assert resolution.hits == []
        assert resolution.blocked_mirrors == []


# Layout: alice/dev (A) -> alice/prod (B) -> root/pypi (mirror, which has the project).
# Columns: A's mirror_whitelist_inheritance, A's whitelist, B's whitelist, which stages hold
# the project privately, and whether the mirror's files are used. Derived by hand from the
# rules: the whitelist starts as A's and is combined with B's by A's inheritance; a stage
# whose combined whitelist names the project (or "*") marks it whitelisted for good;
# otherwise a stage that holds it is a private hit, which shuts out the mirror.
WHITELIST_TABLE = [
    ("intersection", "", "", "", True),
    ("intersection", "", "", "A", False),
    ("intersection", "", "", "B", False),
    ("intersection", "", "", "AB", False),
    ("intersection", P, "", "A", True),
    ("intersection", P, "", "B", True),
    ("intersection", P, "other", "AB", True),
    ("intersection", "", P, "A", False),
    ("intersection", "", P, "B", False),
    ("intersection", P, P, "B", True),
    ("intersection", "*", "", "AB", True),
    ("intersection", "", "*", "B", False),
    ("intersection", "Hello_World", "", "A", True),
    ("intersection", "other", "", "A", False),
    ("union", "", "", "A", False),
    ("union", "", "", "B", False),
    ("union", "", P, "A", True),
    ("union", "", P, "B", True),
    ("union", "", "*", "AB", True),
    ("union", "other", "", "A", False),
    ("union", "other", "another", "B", False),
    ("union", "other", P, "AB", True),
]


@pytest.mark.parametrize(
    ("inheritance", "dev_list", "prod_list", "private_in", "mirror_used"), WHITELIST_TABLE
)
def test_whitelist_table(
    tx, types, mirror, inheritance, dev_list, prod_list, private_in, mirror_used
):
    make_mirror(tx, types, mirror, "root/pypi", P)
    # The base's own inheritance setting must not matter: only the requesting index's does.
    other = "union" if inheritance == "intersection" else "intersection"
    make(tx, types, "alice/prod", bases="root/pypi", mirror_whitelist=prod_list,
         mirror_whitelist_inheritance=other)  # fmt: skip
    make(tx, types, "alice/dev", bases="alice/prod", mirror_whitelist=dev_list,
         mirror_whitelist_inheritance=inheritance)  # fmt: skip
    private = [name for key, name in (("A", "alice/dev"), ("B", "alice/prod")) if key in private_in]
    for name in private:
        host(tx, name)
    resolution = resolve(tx, types, "alice/dev", P)
    names = [hit.name for hit in resolution.hits]
    assert names == private + (["root/pypi"] if mirror_used else [])
    assert resolution.blocked_mirrors == ([] if mirror_used else ["root/pypi"])
    assert mirror.asked == ([("root/pypi", P)] if mirror_used else [])


@pytest.mark.parametrize(("prod_list", "mirror_used"), [("", False), (P, True)])
def test_an_index_without_the_inheritance_key_combines_by_union(
    tx, types, mirror, prod_list, mirror_used
):
    make_mirror(tx, types, mirror, "root/pypi", P)
    make(tx, types, "alice/prod", bases="root/pypi", mirror_whitelist=prod_list)
    raw_index(tx, "alice/dev", bases=["alice/prod"], mirror_whitelist=[])
    host(tx, "alice/dev")
    names = [hit.name for hit in resolve(tx, types, "alice/dev", P).hits]
    assert names == ["alice/dev"] + (["root/pypi"] if mirror_used else [])


def test_the_mirror_is_asked_only_for_names_that_are_not_private(tx, types, mirror):
    make_mirror(tx, types, mirror, "root/pypi", P, "requests")
    make(tx, types, "alice/dev", bases="root/pypi")
    host(tx, "alice/dev")
    assert [h.name for h in resolve(tx, types, "alice/dev", "requests").hits] == ["root/pypi"]
    assert [h.name for h in resolve(tx, types, "alice/dev", P).hits] == ["alice/dev"]
    assert resolve(tx, types, "alice/dev", "nowhere").hits == []
    assert mirror.asked == [("root/pypi", "requests"), ("root/pypi", "nowhere")]


class TestCycles:
    @pytest.fixture
    def cyclic(self, tx, types, mirror):
        make_mirror(tx, types, mirror, "root/pypi", P, "requests")
        raw_index(tx, "alice/a", bases=["alice/b", "alice/a"], mirror_whitelist=["*"])
        raw_index(tx, "alice/b", bases=["alice/c", "root/pypi"], mirror_whitelist=[],
                  mirror_whitelist_inheritance="intersection")  # fmt: skip
        raw_index(tx, "alice/c", bases=["alice/a", "alice/b", "root/pypi"])
        for name in ("alice/a", "alice/b", "alice/c"):
            host(tx, name)

    def test_resolve_visits_each_index_once(self, tx, types, cyclic):
        names = [hit.name for hit in resolve(tx, types, "alice/b", P).hits]
        # From b, a's "*" is intersected away, so b's private hit blocks the mirror.
        assert names == ["alice/b", "alice/c", "alice/a"]
        names = [hit.name for hit in resolve(tx, types, "alice/a", P).hits]
        assert names == ["alice/a", "alice/b", "alice/c", "root/pypi"]

    def test_project_names_terminate(self, tx, types, cyclic):
        assert project_names(tx, types, "alice/c") == [P, "requests"]


def test_project_names_include_every_base_and_mirror(tx, types, mirror):
    make_mirror(tx, types, mirror, "root/pypi", P, "requests")
    make(tx, types, "alice/prod", bases="root/pypi")
    make(tx, types, "alice/dev", bases="alice/prod")
    host(tx, "alice/prod", "private-pkg")
    host(tx, "alice/dev", P)
    assert project_names(tx, types, "alice/dev") == [P, "private-pkg", "requests"]
    assert project_names(tx, types, "alice/prod") == [P, "private-pkg", "requests"]
