"""Broken devpi exports: each problem is a DumpError that names the file, user, index or key."""

from __future__ import annotations

import re

import pytest
from tests.unit.test_devpi_dump import DevpiDump

from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.plugins import make_plugin_manager
from cheesecellar_export.devpi import read_devpi_dump
from cheesecellar_export.dump import DumpError
from cheesecellar_export.validate import validate


@pytest.fixture
def dump(tmp_path) -> DevpiDump:
    return DevpiDump(tmp_path / "export")


def fails(dump: DevpiDump, message: str) -> None:
    with pytest.raises(DumpError, match=re.escape(message)):
        dump.read()


@pytest.mark.parametrize("version", ["3", "0", 3, "2.0"])
def test_unknown_dumpversion(dump, version):
    dump.data["dumpversion"] = version
    fails(
        dump,
        f"unknown devpi dumpversion '{version}'; cheesecellar reads devpi dumps of "
        "dumpversion 1 and 2",
    )


@pytest.mark.parametrize("key", ["dumpversion", "users", "indexes"])
def test_missing_top_level_key(dump, key):
    del dump.data[key]
    fails(dump, f"dataindex.json: missing key {key!r}")


def test_a_document_that_is_no_object_or_no_json(dump):
    dump.data = []
    fails(dump, "dataindex.json does not hold a JSON object")
    (dump.root / "dataindex.json").write_text('{"dumpversion": "2", ')
    with pytest.raises(DumpError, match="is not valid JSON"):
        read_devpi_dump(dump.root, dump.root.parent)


def test_missing_indexconfig_and_type(dump):
    index = dump.data["indexes"]["alice/dev"]
    config = index.pop("indexconfig")
    fails(dump, "dataindex.json: index alice/dev: missing key 'indexconfig'")
    index["indexconfig"] = {k: v for k, v in config.items() if k != "type"}
    fails(dump, "dataindex.json: index alice/dev: 'indexconfig' has no 'type'")


def test_a_bad_config_value_names_the_index(dump):
    dump.data["indexes"]["alice/dev"]["indexconfig"]["volatile"] = "maybe"
    fails(dump, "dataindex.json: index alice/dev: Unknown boolean value 'maybe'.")


def test_a_changed_file(dump):
    relpath = dump.files()[0]["relpath"]
    (dump.root / relpath).write_bytes(b"not the wheel")
    fails(dump, f"{relpath}: sha256 is ")
    with pytest.raises(DumpError, match="the file was changed or damaged"):
        dump.read()


def test_a_missing_file(dump):
    relpath = dump.files()[1]["relpath"]
    (dump.root / relpath).unlink()
    fails(dump, f"{relpath}: the file is missing from the export")


def test_a_file_path_that_leaves_the_export(dump):
    dump.files()[1]["relpath"] = "alice/dev/../../outside.tar.gz"
    fails(dump, "dataindex.json: file path 'alice/dev/../../outside.tar.gz' leaves the export")


def test_files_of_a_project_the_dump_does_not_list(dump):
    del dump.data["indexes"]["alice/dev"]["projects"]["hello-world"]
    fails(dump, "dataindex.json: index alice/dev: files of projects the dump does not list")


def test_files_on_disk_that_are_not_listed_are_only_a_warning(dump):
    (dump.root / "alice" / "dev" / "stray.txt").write_text("left behind")
    assert dump.read().warnings == [
        "not imported: 1 files dataindex.json does not list: alice/dev/stray.txt"
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("al ice", "username 'al ice' contains characters that aren't allowed"),
        ("+replica", "username '+replica' contains characters that aren't allowed"),
        ("", "user name must not be empty"),
    ],
)
def test_bad_user_names(dump, name, message):
    dump.data["users"][name] = {"pwhash": None}
    fails(dump, message)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("alice/de v", "indexname 'de v' contains characters that aren't allowed"),
        ("alicedev", "bad index name 'alicedev' (not user/index)"),
        ("alice/dev/x", "bad index name 'alice/dev/x' (not user/index)"),
        ("carol/dev", "index carol/dev: its user 'carol' is not in the dump"),
    ],
)
def test_bad_index_names(dump, name, message):
    dump.data["indexes"][name] = {"indexconfig": {"type": "stage"}}
    fails(dump, message)


def test_a_bad_project_name(dump):
    dump.data["indexes"]["alice/dev"]["projects"]["!!!"] = {}
    fails(dump, "dataindex.json: index alice/dev: bad project name '!!!'")


@pytest.mark.parametrize("version", ["1/0", "", " 1.0", ".."])
def test_a_bad_version(dump, version):
    dump.files()[0]["version"] = version
    fails(dump, f"bad version {version!r}")


def test_a_file_name_that_cannot_be_served(dump):
    desc = dump.files()[1]
    (dump.root / desc["relpath"]).rename(dump.root / "alice/dev/hello-world/1.0/bad name.tar.gz")
    desc["relpath"] = "alice/dev/hello-world/1.0/bad name.tar.gz"
    fails(dump, "alice/dev/hello-world/1.0/bad name.tar.gz: invalid file name 'bad name.tar.gz'")


def test_a_file_entry_without_its_keys(dump):
    del dump.files()[0]["projectname"]
    fails(dump, "dataindex.json: index alice/dev: a file entry has no 'projectname'")


def test_a_file_of_an_unknown_type(dump):
    dump.files()[1]["type"] = "egg-info"
    fails(dump, "hello-world/1.0/Hello_World-1.0.tar.gz: unknown file type 'egg-info'")


def test_a_tox_result_of_a_release_file_that_is_not_there(dump):
    (tox,) = [desc for desc in dump.files() if desc["type"] == "toxresult"]
    tox["for_entrypath"] = "alice/dev/+f/abc/def/Other-1.0.tar.gz"
    fails(dump, "a tox result of Other-1.0.tar.gz, which is no release file of hello-world 1.0")
    del tox["for_entrypath"]
    fails(dump, "the tox result has no 'for_entrypath'")


def test_a_mirror_file_without_its_upstream_url(dump):
    dump.data["users"]["root"] = {}
    mirror = dump.index("root/pypi", type="mirror", mirror_url="https://pypi.org/simple/")
    mirror["projects"] = {"hello-world": {"1.0": {"name": "hello-world", "version": "1.0"}}}
    dump.add_file("root/pypi", "hello-world/1.0/" + dump.sdist.filename, dump.sdist.content)
    fails(
        dump,
        "root/pypi/hello-world/1.0/Hello_World-1.0.tar.gz: the cached file has no upstream 'url'",
    )


def test_a_bad_log(dump):
    dump.files()[0]["log"] = "uploaded"
    fails(dump, "'log' is not a list of objects")


def test_an_index_type_of_a_devpi_plugin_is_refused_by_the_import_checks(dump):
    dump.index("alice/ext", type="indexinheritance", bases=["alice/dev"])
    read = dump.read()
    assert read.document["indexes"]["alice/ext"]["config"]["bases"] == ["alice/dev"]
    with pytest.raises(DumpError, match="index alice/ext: unknown index type 'indexinheritance'"):
        validate(read, IndexTypeRegistry(make_plugin_manager(entry_points=False)))
