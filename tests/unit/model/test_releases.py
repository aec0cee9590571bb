"""Releases: adding files (new, identical, conflicting, overwritten), metadata, removal,
yanking and purging an index, on the in-memory store with real transactions."""

from __future__ import annotations

import hashlib
import io
import re

import pytest

from cheesecellar.errors import Conflict
from cheesecellar.errors import Forbidden
from cheesecellar.errors import NotFound
from cheesecellar.model import keys
from cheesecellar.model import releases
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage import open_storage

DEV = "alice/dev"
WHEEL = "Hello_World-1.0-py3-none-any.whl"
SDIST = "Hello_World-1.0.tar.gz"
UPLOAD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture(scope="module")
def pm():
    return make_plugin_manager(entry_points=False)


@pytest.fixture
def storage(pm, tmp_path):
    storage = open_storage(pm, tmp_path, ("memory", {}))
    yield storage
    storage.close()


@pytest.fixture
def tx(storage):
    with storage.transaction(write=True) as tx:
        yield tx


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def add(tx, filename=WHEEL, content=b"wheel one", *, version="1.0", volatile=True, **kw):
    kw.setdefault("who", "alice")
    kw.setdefault("project", "hello-world")
    kw.setdefault("indexname", DEV)
    return releases.add_file(
        tx, kw.pop("indexname"), kw.pop("project"), version, filename,
        io.BytesIO(content), sha(content), volatile=volatile, **kw,
    )  # fmt: skip


def add_wheel_with_metadata(tx, content=b"wheel one", **kw):
    """What an upload does for a wheel: the file, then its ``.metadata`` beside it."""
    core = {"sha256": sha(b"Metadata-Version: 2.1")}
    entry, _ = add(tx, WHEEL, content, extra={"core_metadata": core}, **kw)
    tx.store_file(entry["relpath"] + ".metadata", io.BytesIO(b"Metadata-Version: 2.1"))
    return entry


def files_of(tx, version="1.0", project="hello-world", indexname=DEV) -> list[dict]:
    return releases.get_version(tx, indexname, project, version)[releases.FILES]


class TestAddFile:
    def test_a_new_file_is_stored_with_its_entry(self, tx):
        entry, identical = add(tx)
        assert identical is False
        relpath = f"{DEV}/+f/{sha(b'wheel one')[:3]}/{sha(b'wheel one')[3:16]}/{WHEEL}"
        assert entry["relpath"] == relpath == releases.file_relpath(DEV, sha(b"wheel one"), WHEEL)
        assert entry["filename"] == WHEEL
        assert entry["type"] == "releasefile"
        assert entry["hashes"] == {"sha256": sha(b"wheel one")}
        assert entry["size"] == len(b"wheel one")
        assert UPLOAD_TIME.match(entry["upload_time"])
        [log] = entry["log"]
        assert log["what"] == "upload"
        assert log["who"] == "alice"
        assert log["dst"] == DEV
        assert len(log["when"]) == 6
        assert files_of(tx) == [entry]
        assert releases.get_project(tx, DEV, "hello-world") == {"name": "hello-world"}
        assert tx.file_info(relpath).sha256 == sha(b"wheel one")
        assert tx.get(keys.file(relpath)) == {
            "index": DEV,
            "project": "hello-world",
            "version": "1.0",
        }

    def test_the_content_is_readable_after_commit(self, storage):
        with storage.transaction(write=True) as tx:
            entry, _ = add(tx)
        assert storage.open_file(entry["relpath"]).read() == b"wheel one"
        with storage.transaction() as tx:
            assert releases.find_file(tx, entry["relpath"]) == ("hello-world", "1.0", entry)

    def test_a_second_file_joins_the_version(self, tx):
        wheel, _ = add(tx)
        sdist, _ = add(tx, SDIST, b"sdist one")
        assert files_of(tx) == [wheel, sdist]

    def test_the_display_name_of_a_registered_version_is_kept(self, tx):
        releases.set_metadata(tx, DEV, "hello-world", "1.0", {"name": "Hello_World"})
        add(tx)
        assert releases.get_version(tx, DEV, "hello-world", "1.0")["name"] == "Hello_World"

    @pytest.mark.parametrize("volatile", [True, False])
    def test_an_identical_file_changes_nothing(self, storage, volatile):
        with storage.transaction(write=True) as tx:
            first, _ = add(tx, volatile=volatile)
        serial = storage.last_serial()
        with storage.transaction(write=True) as tx:
            again, identical = add(tx, volatile=volatile, who="bob")
            assert tx.has_changes() is False
        assert identical is True
        assert again == first
        assert storage.last_serial() == serial

    def test_a_different_file_under_the_same_name_conflicts_on_non_volatile(self, storage):
        with storage.transaction(write=True) as tx:
            first, _ = add(tx, volatile=False)
        with (
            pytest.raises(Conflict, match=f"{WHEEL} already exists in non-volatile index"),
            storage.transaction(write=True) as tx,
        ):
            add(tx, content=b"wheel two", volatile=False)
        with storage.transaction() as tx:
            assert files_of(tx) == [first]
        assert storage.open_file(first["relpath"]).read() == b"wheel one"

    def test_volatile_overwrite_replaces_the_file_and_logs_a_count(self, storage):
        with storage.transaction(write=True) as tx:
            first, _ = add(tx)
            add(tx, SDIST, b"sdist one")
        with storage.transaction(write=True) as tx:
            second, identical = add(tx, content=b"wheel two", who="bob")
        assert identical is False
        assert [item["what"] for item in second["log"]] == ["upload", "overwrite"]
        assert second["log"][1]["count"] == 1
        assert second["log"][1]["who"] == "bob"
        with storage.transaction(write=True) as tx:
            third, _ = add(tx, content=b"wheel three")
        assert [item.get("count") for item in third["log"]] == [None, 1, 2]
        with storage.transaction() as tx:
            assert [e["filename"] for e in files_of(tx)] == [SDIST, WHEEL]
            assert files_of(tx)[1] == third
            for old in (first, second):
                assert tx.file_info(old["relpath"]) is None
                assert tx.get(keys.file(old["relpath"])) is None
            assert tx.file_info(third["relpath"]).size == len(b"wheel three")
        assert storage.open_file(third["relpath"]).read() == b"wheel three"
        with pytest.raises(FileNotFoundError):
            storage.open_file(first["relpath"])

    def test_an_overwrite_removes_the_old_metadata_file(self, tx):
        first = add_wheel_with_metadata(tx)
        add(tx, content=b"wheel two")
        assert tx.file_info(first["relpath"] + ".metadata") is None


class TestSetMetadata:
    def test_registers_a_version_without_files(self, tx):
        verdata = releases.set_metadata(
            tx, DEV, "hello-world", "1.0", {"name": "Hello_World", "summary": "hi"}
        )
        assert verdata == {
            "name": "Hello_World",
            "version": "1.0",
            "summary": "hi",
            releases.FILES: [],
        }
        assert releases.get_project(tx, DEV, "hello-world") == {"name": "Hello_World"}
        assert releases.version_strings(tx, DEV, "hello-world") == ["1.0"]

    def test_keeps_files_and_yank_state(self, tx):
        entry, _ = add(tx)
        releases.set_yanked(tx, DEV, "hello-world", "1.0", True, "broken")
        metadata = {
            "summary": "new",
            releases.FILES: [],
            "yanked": False,
            "yanked_reason": "sneaky",
            "version": "9.9",
        }
        verdata = releases.set_metadata(tx, DEV, "hello-world", "1.0", metadata)
        assert verdata[releases.FILES] == [entry]
        assert verdata["yanked"] is True
        assert verdata["yanked_reason"] == "broken"
        assert verdata["summary"] == "new"
        assert verdata["version"] == "1.0"
        assert releases.get_version(tx, DEV, "hello-world", "1.0") == verdata

    def test_metadata_without_a_name_keeps_the_display_name(self, tx):
        releases.set_metadata(tx, DEV, "hello-world", "1.0", {"name": "Hello_World"})
        verdata = releases.set_metadata(tx, DEV, "hello-world", "1.0", {"summary": "hi"})
        assert verdata["name"] == "Hello_World"


def two_versions(storage) -> dict[str, dict]:
    """``hello-world`` 1.0 (wheel with metadata + sdist) and 2.0 (sdist), committed."""
    with storage.transaction(write=True) as tx:
        return {
            "wheel": add_wheel_with_metadata(tx),
            "sdist": add(tx, SDIST, b"sdist one")[0],
            "two": add(tx, "Hello_World-2.0.tar.gz", b"sdist two", version="2.0")[0],
        }


class TestRemoveFile:
    def test_removes_the_entry_the_blob_and_the_metadata(self, storage):
        files = two_versions(storage)
        relpath = files["wheel"]["relpath"]
        with storage.transaction(write=True) as tx:
            releases.remove_file(tx, DEV, relpath, volatile=True, force=False)
        with storage.transaction() as tx:
            assert files_of(tx) == [files["sdist"]]
            assert tx.file_info(relpath) is None
            assert tx.file_info(relpath + ".metadata") is None
            assert tx.get(keys.file(relpath)) is None
            assert releases.find_file(tx, relpath) is None

    def test_the_version_goes_with_its_last_file_and_the_project_with_its_last_version(
        self, storage
    ):
        files = two_versions(storage)
        with storage.transaction(write=True) as tx:
            releases.remove_file(tx, DEV, files["two"]["relpath"], volatile=True, force=False)
            assert releases.version_strings(tx, DEV, "hello-world") == ["1.0"]
            for name in ("wheel", "sdist"):
                releases.remove_file(tx, DEV, files[name]["relpath"], volatile=True, force=False)
            assert releases.get_version(tx, DEV, "hello-world", "1.0") is None
            assert releases.get_project(tx, DEV, "hello-world") is None

    def test_non_volatile_refuses_unless_forced(self, storage):
        files = two_versions(storage)
        relpath = files["sdist"]["relpath"]
        with pytest.raises(Forbidden, match="non-volatile"), storage.transaction(write=True) as tx:
            releases.remove_file(tx, DEV, relpath, volatile=False, force=False)
        with storage.transaction(write=True) as tx:
            assert tx.file_info(relpath) is not None
            releases.remove_file(tx, DEV, relpath, volatile=False, force=True)
            assert tx.file_info(relpath) is None

    def test_an_unknown_file_is_not_found(self, tx):
        with pytest.raises(NotFound, match="no such file"):
            releases.remove_file(tx, DEV, f"{DEV}/+f/abc/def/x.whl", volatile=True, force=True)


class TestRemoveVersionAndProject:
    def test_remove_version_keeps_the_others(self, storage):
        files = two_versions(storage)
        with storage.transaction(write=True) as tx:
            releases.remove_version(tx, DEV, "hello-world", "1.0", volatile=True, force=False)
            assert releases.version_strings(tx, DEV, "hello-world") == ["2.0"]
            assert releases.get_project(tx, DEV, "hello-world") is not None
            for name in ("wheel", "sdist"):
                assert tx.file_info(files[name]["relpath"]) is None
                assert tx.get(keys.file(files[name]["relpath"])) is None
            assert tx.file_info(files["wheel"]["relpath"] + ".metadata") is None
            assert tx.file_info(files["two"]["relpath"]) is not None

    def test_the_project_goes_with_its_last_version(self, storage):
        two_versions(storage)
        with storage.transaction(write=True) as tx:
            for version in ("1.0", "2.0"):
                releases.remove_version(tx, DEV, "hello-world", version, volatile=True, force=False)
            assert releases.get_project(tx, DEV, "hello-world") is None

    def test_a_metadata_only_version_can_be_removed(self, tx):
        releases.set_metadata(tx, DEV, "hello-world", "3.0", {"name": "hello-world"})
        releases.remove_version(tx, DEV, "hello-world", "3.0", volatile=True, force=False)
        assert releases.get_project(tx, DEV, "hello-world") is None

    def test_remove_version_non_volatile_needs_force(self, storage):
        two_versions(storage)
        with pytest.raises(Forbidden, match="non-volatile"), storage.transaction(write=True) as tx:
            releases.remove_version(tx, DEV, "hello-world", "1.0", volatile=False, force=False)
        with storage.transaction(write=True) as tx:
            releases.remove_version(tx, DEV, "hello-world", "1.0", volatile=False, force=True)
            assert releases.version_strings(tx, DEV, "hello-world") == ["2.0"]

    def test_remove_unknown_version_is_not_found(self, storage):
        two_versions(storage)
        with storage.transaction(write=True) as tx, pytest.raises(NotFound, match="version '9"):
            releases.remove_version(tx, DEV, "hello-world", "9.9", volatile=True, force=True)

    def test_remove_project_removes_everything_of_it(self, storage):
        files = two_versions(storage)
        with storage.transaction(write=True) as tx:
            add(tx, "other-1.0.tar.gz", b"other", project="other")
        with storage.transaction(write=True) as tx:
            releases.remove_project(tx, DEV, "hello-world", volatile=True, force=False)
        with storage.transaction() as tx:
            assert releases.get_project(tx, DEV, "hello-world") is None
            assert tx.keys(keys.versions_prefix(DEV, "hello-world")) == []
            for entry in files.values():
                assert tx.file_info(entry["relpath"]) is None
            assert releases.version_strings(tx, DEV, "other") == ["1.0"]

    def test_remove_project_non_volatile_needs_force(self, storage):
        two_versions(storage)
        with (
            pytest.raises(Forbidden, match="is on non-volatile index alice/dev"),
            storage.transaction(write=True) as tx,
        ):
            releases.remove_project(tx, DEV, "hello-world", volatile=False, force=False)
        with storage.transaction(write=True) as tx:
            releases.remove_project(tx, DEV, "hello-world", volatile=False, force=True)
            assert releases.get_project(tx, DEV, "hello-world") is None

    def test_remove_unknown_project_is_not_found(self, tx):
        with pytest.raises(NotFound, match="project 'nope' not found"):
            releases.remove_project(tx, DEV, "nope", volatile=True, force=True)


class TestPurgeIndex:
    def test_removes_every_record_and_blob_of_the_index_only(self, storage):
        files = two_versions(storage)
        with storage.transaction(write=True) as tx:
            files["doc"] = add(
                tx, "hello-world-1.0.doc.zip", b"docs", filetype="doczip", project="hello-world"
            )[0]
            files["other"] = add(tx, "other-1.0.tar.gz", b"other", project="other")[0]
            releases.set_metadata(tx, DEV, "registered", "0.1", {"name": "registered"})
            kept = add(tx, SDIST, b"sdist one", indexname="alice/prod")[0]
        with storage.transaction(write=True) as tx:
            releases.purge_index(tx, DEV)
        with storage.transaction() as tx:
            assert tx.keys(keys.projects_prefix(DEV)) == []
            assert tx.keys(keys.versions_prefix(DEV)) == []
            assert tx.keys(keys.file(DEV + "/")) == []
            relpaths = [entry["relpath"] for entry in files.values()]
            for relpath in [*relpaths, files["wheel"]["relpath"] + ".metadata"]:
                assert tx.file_info(relpath) is None
            assert tx.keys(keys.file("")) == [keys.file(kept["relpath"])]
            assert releases.find_file(tx, kept["relpath"]) == ("hello-world", "1.0", kept)
        assert storage.open_file(kept["relpath"]).read() == b"sdist one"


class TestSetYanked:
    def test_yank_with_and_without_reason_and_undo(self, storage):
        files = two_versions(storage)
        with storage.transaction(write=True) as tx:
            verdata = releases.set_yanked(tx, DEV, "hello-world", "1.0", True, "broken")
            assert (verdata["yanked"], verdata["yanked_reason"]) == (True, "broken")
            verdata = releases.set_yanked(tx, DEV, "hello-world", "1.0", True, None)
            assert verdata["yanked"] is True
            assert "yanked_reason" not in verdata
            verdata = releases.set_yanked(tx, DEV, "hello-world", "1.0", True, "again")
            verdata = releases.set_yanked(tx, DEV, "hello-world", "1.0", False, "ignored")
            assert "yanked" not in verdata
            assert "yanked_reason" not in verdata
            releases.set_yanked(tx, DEV, "hello-world", "2.0", True, "bad")
        with storage.transaction() as tx:
            assert "yanked" not in releases.get_version(tx, DEV, "hello-world", "1.0")
            two = releases.get_version(tx, DEV, "hello-world", "2.0")
            assert (two["yanked"], two["yanked_reason"]) == (True, "bad")
            assert two[releases.FILES] == [files["two"]]
            assert tx.file_info(files["two"]["relpath"]) is not None

    def test_an_unknown_version_is_not_found(self, tx):
        with pytest.raises(NotFound):
            releases.set_yanked(tx, DEV, "hello-world", "1.0", True, None)
