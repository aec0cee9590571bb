"""Project pages: links merged over the resolution order, versions, yank state, doc zips."""

from __future__ import annotations

import hashlib
import io

import pytest

from cheesecellar import hookimpl
from cheesecellar.model import releases
from cheesecellar.model.indexes import create_index
from cheesecellar.model.indexes import modify_index
from cheesecellar.model.indextypes import IndexType
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.model.pages import links_from_versions
from cheesecellar.model.pages import project_page
from cheesecellar.model.users import create_user_with_hash
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage import open_storage

P = "hello-world"


class FixedMirror:
    """A mirror reader serving fixed version data (``{index: {project: {version: data}}}``)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, dict[str, dict]]] = {}

    def has_project(self, tx, indexname, config, project):
        return project in self.data.get(indexname, {})

    def project_names(self, tx, indexname, config):
        return sorted(self.data.get(indexname, {}))

    def versions(self, tx, indexname, config, project):
        return self.data[indexname][project]

    def links(self, tx, indexname, config, project, versions):
        return links_from_versions(indexname, versions)


class FixedMirrorPlugin:
    def __init__(self, reader) -> None:
        self.reader = reader

    @hookimpl
    def cellar_register_index_types(self, registry):
        registry.add(IndexType("fixedmirror", (), is_mirror=True, reader=self.reader))


@pytest.fixture
def mirror():
    return FixedMirror()


@pytest.fixture
def types(mirror):
    pm = make_plugin_manager(extra=[FixedMirrorPlugin(mirror)], entry_points=False)
    return IndexTypeRegistry(pm)


@pytest.fixture
def tx(tmp_path, types):
    storage = open_storage(make_plugin_manager(entry_points=False), tmp_path, ("memory", {}))
    with storage.transaction(write=True) as tx:
        for user in ("root", "alice"):
            create_user_with_hash(tx, user, None)
        create_index(tx, types, "root", "pypi", {"type": "fixedmirror"})
        create_index(tx, types, "alice", "prod", {"bases": "root/pypi"})
        create_index(tx, types, "alice", "dev", {"bases": "alice/prod"})
        yield tx
    storage.close()


def upload(tx, indexname, filename, content, version="1.0", **kw):
    releases.set_metadata(tx, indexname, P, version, {"name": "Hello_World", **kw})
    sha = hashlib.sha256(content).hexdigest()
    return releases.add_file(
        tx, indexname, P, version, filename, io.BytesIO(content), sha, who="alice", volatile=True
    )[0]


def mirror_version(filename: str, content: bytes, **verdata) -> dict:
    sha = hashlib.sha256(content).hexdigest()
    entry = {
        "filename": filename,
        "relpath": releases.file_relpath("root/pypi", sha, filename),
        "hashes": {"sha256": sha},
    }
    return {"name": P, **verdata, releases.FILES: [entry]}


def page_links(tx, types, indexname="alice/dev"):
    page = project_page(tx, types, indexname, P)
    return [(link.stage, link.filename) for link in page.links]


class TestLinks:
    def test_the_first_file_name_in_the_order_wins(self, tx, types):
        mine = upload(tx, "alice/dev", "Hello_World-1.0.tar.gz", b"dev build")
        upload(tx, "alice/prod", "Hello_World-1.0.tar.gz", b"prod build")
        upload(tx, "alice/prod", "Hello_World-2.0.tar.gz", b"prod two", version="2.0")
        page = project_page(tx, types, "alice/dev", P)
        assert [(link.stage, link.filename) for link in page.links] == [
            ("alice/dev", "Hello_World-1.0.tar.gz"),
            ("alice/prod", "Hello_World-2.0.tar.gz"),
        ]
        assert page.links[0].path == mine["relpath"]
        assert page.links[0].hashes == mine["hashes"]

    def test_a_whitelisted_mirror_cannot_replace_a_private_file(self, tx, types, mirror):
        modify_index(tx, types, "alice", "dev", {"mirror_whitelist": "Hello_World"})
        upload(tx, "alice/prod", "Hello_World-1.0.tar.gz", b"prod build")
        mirror.data["root/pypi"] = {
            P: {
                "1.0": mirror_version("Hello_World-1.0.tar.gz", b"someone else's"),
                "1.1": mirror_version("Hello_World-1.1.tar.gz", b"upstream 1.1"),
            }
        }
        assert page_links(tx, types) == [
            ("alice/prod", "Hello_World-1.0.tar.gz"),
            ("root/pypi", "Hello_World-1.1.tar.gz"),
        ]

    def test_a_private_name_shuts_out_the_mirror(self, tx, types, mirror):
        upload(tx, "alice/prod", "Hello_World-1.0.tar.gz", b"prod build")
        mirror.data["root/pypi"] = {P: {"9.0": mirror_version("Hello_World-9.0.tar.gz", b"x")}}
        page = project_page(tx, types, "alice/dev", P)
        assert [link.stage for link in page.links] == ["alice/prod"]
        assert page.versions == ["1.0"]
        assert page.blocked_mirrors == ["root/pypi"]

    def test_a_mirror_only_project_is_served_from_the_mirror(self, tx, types, mirror):
        mirror.data["root/pypi"] = {P: {"9.0": mirror_version("Hello_World-9.0.tar.gz", b"x")}}
        page = project_page(tx, types, "alice/dev", P)
        assert [(link.stage, link.path[:10]) for link in page.links] == [
            ("root/pypi", "root/pypi/")
        ]
        assert page.blocked_mirrors == []

    def test_file_details_reach_the_link(self, tx, types):
        entry = upload(tx, "alice/prod", "Hello_World-1.0.tar.gz", b"x", requires_python=">=3.8")
        [link] = project_page(tx, types, "alice/dev", P).links
        assert link.version == "1.0"
        assert link.requires_python == ">=3.8"
        assert link.size == 1
        assert link.upload_time == entry["upload_time"]
        assert link.core_metadata is None
        assert link.yanked is False

    def test_doc_zips_are_not_links(self, tx, types):
        upload(tx, "alice/dev", "Hello_World-1.0.tar.gz", b"x")
        releases.add_file(
            tx, "alice/dev", P, "2.0", "hello-world-2.0.doc.zip", io.BytesIO(b"docs"),
            hashlib.sha256(b"docs").hexdigest(), who=None, volatile=True, filetype="doczip",
        )  # fmt: skip
        page = project_page(tx, types, "alice/dev", P)
        assert [link.filename for link in page.links] == ["Hello_World-1.0.tar.gz"]

    def test_an_unknown_project_has_no_page(self, tx, types):
        assert project_page(tx, types, "alice/dev", P) is None

    def test_the_page_name_is_normalised(self, tx, types):
        upload(tx, "alice/dev", "Hello_World-1.0.tar.gz", b"x")
        assert project_page(tx, types, "alice/dev", P).name == P


class TestVersions:
    def test_sorted_by_pep440_with_invalid_versions_tolerated(self, tx, types, mirror):
        for version in ("1.10", "1.9", "2.0", "2.0rc1", "not-a-version"):
            upload(tx, "alice/prod", f"Hello_World-{version}.tar.gz", b"x" + version.encode(),
                   version=version)  # fmt: skip
        releases.set_metadata(tx, "alice/dev", P, "1.0.post1", {"name": P})
        page = project_page(tx, types, "alice/dev", P)
        assert page.versions == ["not-a-version", "1.0.post1", "1.9", "1.10", "2.0rc1", "2.0"]

    def test_versions_are_the_union_over_the_order(self, tx, types):
        upload(tx, "alice/dev", "Hello_World-1.0.tar.gz", b"dev")
        upload(tx, "alice/prod", "Hello_World-1.0.tar.gz", b"prod")
        upload(tx, "alice/prod", "Hello_World-0.9.tar.gz", b"old", version="0.9")
        assert project_page(tx, types, "alice/dev", P).versions == ["0.9", "1.0"]


class TestYanked:
    def test_the_reason_reaches_inheriting_indexes(self, tx, types):
        upload(tx, "alice/prod", "Hello_World-1.0.tar.gz", b"one")
        upload(tx, "alice/prod", "Hello_World-2.0.tar.gz", b"two", version="2.0")
        upload(tx, "alice/prod", "Hello_World-3.0.tar.gz", b"three", version="3.0")
        releases.set_yanked(tx, "alice/prod", P, "1.0", True, "broken build")
        releases.set_yanked(tx, "alice/prod", P, "2.0", True, None)
        for indexname in ("alice/prod", "alice/dev"):
            page = project_page(tx, types, indexname, P)
            yanked = {link.version: link.yanked for link in page.links}
            assert yanked == {"1.0": "broken build", "2.0": True, "3.0": False}

    def test_undoing_a_yank_clears_it(self, tx, types):
        upload(tx, "alice/prod", "Hello_World-1.0.tar.gz", b"one")
        releases.set_yanked(tx, "alice/prod", P, "1.0", True, "oops")
        releases.set_yanked(tx, "alice/prod", P, "1.0", False, None)
        [link] = project_page(tx, types, "alice/dev", P).links
        assert link.yanked is False

    def test_mirror_yank_state_is_kept(self, tx, types, mirror):
        mirror.data["root/pypi"] = {
            P: {"1.0": mirror_version("x-1.0.tar.gz", b"x", yanked=True, yanked_reason="bad")}
        }
        [link] = project_page(tx, types, "alice/dev", P).links
        assert link.yanked == "bad"
