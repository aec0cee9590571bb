"""Reading devpi-server exports: the checked-in real export, and devpi's migrations."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from tests.functional.distfiles import doczip
from tests.functional.distfiles import sdist
from tests.functional.distfiles import wheel

from cheesecellar.auth.passwords import verify_password
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.plugins import make_plugin_manager
from cheesecellar_export.devpi import read_devpi_dump
from cheesecellar_export.dump import Dump
from cheesecellar_export.dump import DumpError
from cheesecellar_export.validate import validate

DATA = Path(__file__).parents[1] / "data" / "devpi-export"
ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
LAST_MODIFIED = "Sun, 22 Nov 2026 10:52:23 GMT"
TOXRESULT = b'{"reportversion": "1", "testenvs": {}}'


class DevpiDump:
    """A small devpi export in a directory: alice/dev holds Hello_World 1.0 with a
    wheel, an sdist, a doc zip and a tox result. Change ``data`` or files, then read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = {
            "dumpversion": "2",
            "devpi_server": "6.20.3",
            "pythonversion": [3, 11, 7, "final", 0],
            "users": {"alice": {"username": "alice", "pwhash": ARGON2, "created": "2026"}},
            "indexes": {},
        }
        self.index("alice/dev", type="stage", bases=[], volatile=True, acl_upload=["alice"])
        self.project("alice/dev", "hello-world", "1.0", name="Hello_World", summary="hi")
        self.wheel = wheel("Hello_World", "1.0")
        self.add_file("alice/dev", "hello-world/1.0/" + self.wheel.filename, self.wheel.content)
        self.sdist = sdist("Hello_World", "1.0")
        self.add_file("alice/dev", "hello-world/1.0/" + self.sdist.filename, self.sdist.content)
        self.add_file("alice/dev", "hello-world-1.0.doc.zip", doczip(), type="doczip")
        self.add_toxresult("alice/dev", self.wheel.filename, TOXRESULT)

    def index(self, name: str, **config) -> dict:
        self.data["indexes"][name] = {"indexconfig": config, "projects": {}, "files": []}
        return self.data["indexes"][name]

    def project(self, index: str, project: str, version: str, **verdata) -> dict:
        versions = self.data["indexes"][index]["projects"].setdefault(project, {})
        versions[version] = {"version": version, **verdata}
        return versions[version]

    def add_file(self, index: str, tail: str, content: bytes, **desc) -> dict:
        """Write ``content`` at ``{index}/{tail}`` and list it (project hello-world 1.0)."""
        relpath = f"{index}/{tail}"
        (self.root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (self.root / relpath).write_bytes(content)
        sha256 = hashlib.sha256(content).hexdigest()
        entry = {
            "type": "releasefile",
            "projectname": "hello-world",
            "version": "1.0",
            "relpath": relpath,
            "entrymapping": {
                "hash_spec": f"sha256={sha256}",
                "hashes": {"sha256": sha256},
                "last_modified": LAST_MODIFIED,
            },
            "log": [{"what": "upload", "who": "alice", "when": [2026, 11, 22, 10, 52, 23]}],
        }
        entry.update(desc)
        self.data["indexes"][index]["files"].append(entry)
        return entry

    def add_toxresult(self, index: str, release: str, content: bytes, **desc) -> dict:
        release_sha = hashlib.sha256((self.root / index / "hello-world/1.0" / release).read_bytes())
        tail = f"hello-world/sha256={release_sha.hexdigest()}/{release}.toxresult-20261122-0"
        forpath = f"{index}/+f/{release_sha.hexdigest()[:3]}/x/{release}"
        return self.add_file(index, tail, content, type="toxresult", for_entrypath=forpath, **desc)

    def files(self, index: str = "alice/dev") -> list[dict]:
        return self.data["indexes"][index]["files"]

    def read(self, workdir: Path | None = None) -> Dump:
        (self.root / "dataindex.json").write_text(json.dumps(self.data))
        workdir = workdir or self.root.parent / "work"
        workdir.mkdir(exist_ok=True)
        return read_devpi_dump(self.root, workdir)


@pytest.fixture
def dump(tmp_path) -> DevpiDump:
    return DevpiDump(tmp_path / "export")


@pytest.fixture(scope="module")
def types():
    return IndexTypeRegistry(make_plugin_manager(entry_points=False))


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Dump:
    return read_devpi_dump(DATA / "with-mirror", tmp_path_factory.mktemp("work"))


def versions_of(document: dict, index: str, project: str = "hello-world") -> dict:
    return document["indexes"][index]["projects"][project]["versions"]


def entries(document: dict, index: str, version: str = "1.0") -> dict[str, dict]:
    files = versions_of(document, index)[version]["+files"]
    return {entry["type"] + ":" + entry["filename"]: entry for entry in files}


# --- the real export ---------------------------------------------------------------------


def test_real_export_is_read_without_warnings_and_passes_the_importers_checks(real, types):
    assert real.origin == "devpi-server 6.20.3 dump (dumpversion 2)"
    assert real.warnings == []
    assert real.document["include_mirrored_files"] is True
    validate(copy.deepcopy(real), types)


def test_real_export_keeps_the_argon2_hashes_devpi_made(real):
    users = real.document["users"]
    assert sorted(users) == ["alice", "bob", "root"]
    assert verify_password(users["alice"]["pwhash"], "alicepw")
    assert not verify_password(users["alice"]["pwhash"], "bobpw")
    assert users["alice"]["email"] == "alice@example.com"
    assert users["alice"]["title"] == "Alice Liddell"
    assert "username" not in users["alice"]


def test_every_file_is_where_devpi_served_it_with_its_hash(real):
    links = json.loads((DATA / "devpi-links.json").read_text())
    blobs, records = real.document["blobs"], real.document["indexes"]["root/pypi"]["mirror"]
    for index, projects in links.items():
        for project, versions in projects.items():
            for version, listed in versions.items():
                for link in listed:
                    sha256 = link["hash_spec"].removeprefix("sha256=")
                    assert blobs[link["path"]]["sha256"] == sha256, link
                    if index == "root/pypi":
                        assert records["records"]["file/" + link["path"]]["version"] == version
                        continue
                    files = versions_of(real.document, index, project)[version]["+files"]
                    assert link["path"] in [entry["relpath"] for entry in files]


def test_index_configs_survive_with_devpis_migrations(real):
    indexes = real.document["indexes"]
    dev = indexes["alice/dev"]["config"]
    assert dev["bases"] == ["alice/prod", "root/pypi"]
    assert dev["acl_upload"] == ["alice", "bob"]
    assert dev["acl_toxresult_upload"] == ["alice", ":AUTHENTICATED:"]
    assert dev["mirror_whitelist"] == ["hello-world"]
    assert dev["mirror_whitelist_inheritance"] == "union"
    assert dev["uploadtrigger_jenkins"] == "http://127.0.0.1:9/jenkins/job/{pkgname}/build"
    assert dev["custom_data"] == "team qa"
    assert "uploadtrigger_jenkins" not in indexes["alice/prod"]["config"]
    assert indexes["alice/prod"]["config"]["volatile"] is False
    assert indexes["bob/scratch"]["config"]["bases"] == ["alice/prod"]
    mirror = indexes["root/pypi"]["config"]
    assert mirror["type"] == "mirror" and mirror["mirror_cache_expiry"] == 600
    assert mirror["mirror_url"].startswith("http://127.0.0.1:")


def test_releases_docs_and_tox_results_become_version_entries(real):
    versions = versions_of(real.document, "alice/dev")
    assert sorted(versions) == ["1.0", "1.1"]  # 0.9 was removed before the export
    assert versions["1.1"]["requires_dist"] == ["idna>=3"]
    assert "platform" not in versions["1.0"] and "home_page" not in versions["1.0"]
    found = entries(real.document, "alice/dev")
    wheel_entry = found["releasefile:Hello_World-1.0-py3-none-any.whl"]
    (tox,) = [e for e in found.values() if e["type"] == "toxresult"]
    assert tox["for_relpath"] == wheel_entry["relpath"]
    assert tox["relpath"].rpartition("/")[0] == wheel_entry["relpath"].rpartition("/")[0]
    assert found["doczip:hello-world-1.0.doc.zip"]["log"][0]["who"] == "alice"
    assert wheel_entry["upload_time"].endswith(".000000Z")
    push = entries(real.document, "alice/prod")["releasefile:Hello_World-1.0.tar.gz"]["log"]
    assert [item["what"] for item in push] == ["upload", "push"]


def test_wheels_get_their_metadata_file(real):
    wheel_entry = entries(real.document, "alice/dev")[
        "releasefile:Hello_World-1.0-py3-none-any.whl"
    ]
    metadata = wheel_entry["relpath"] + ".metadata"
    raw = real.sources[metadata].read_bytes()
    assert hashlib.sha256(raw).hexdigest() == wheel_entry["core_metadata"]["sha256"]
    with zipfile.ZipFile(real.sources[wheel_entry["relpath"]]) as archive:
        assert raw == archive.read("Hello_World-1.0.dist-info/METADATA")
    assert real.document["blobs"][metadata]["size"] == len(raw)


def test_mirror_files_become_the_records_the_mirror_keeps(real):
    records = real.document["indexes"]["root/pypi"]["mirror"]["records"]
    page = records["mirror/root/pypi/idna"]["page"]
    (upfile,) = page["files"]
    assert upfile["filename"] == "idna-3.7-py3-none-any.whl"
    assert upfile["url"].startswith("http://localhost:")
    assert upfile["requires_python"] == ">=3.5"
    (relpath,) = [key.removeprefix("file/") for key in records if key.startswith("file/")]
    record = records["file/" + relpath]
    assert record["mirror"] is True and record["project"] == "idna"
    assert record["hashes"]["sha256"] == upfile["hashes"]["sha256"]
    assert relpath + ".metadata" in real.document["blobs"]


def test_export_without_mirrored_files_has_the_mirror_config_only(tmp_path, types):
    read = read_devpi_dump(DATA / "without-mirror", tmp_path)
    assert read.document["include_mirrored_files"] is False
    assert "mirror" not in read.document["indexes"]["root/pypi"]
    assert read.warnings == []
    validate(read, types)


# --- devpi's migrations ------------------------------------------------------------------


def test_dumpversion_1_files_get_their_version_from_the_file_name(dump):
    dump.data["dumpversion"] = "1"
    for desc in dump.files():
        desc.pop("version")
    found = entries(dump.read().document, "alice/dev")
    assert {entry["type"] for entry in found.values()} == {"releasefile", "doczip", "toxresult"}


def test_dumpversion_may_be_a_number(dump):
    dump.data["dumpversion"] = 2
    assert dump.read().origin == "devpi-server 6.20.3 dump (dumpversion 2)"


def test_md5_and_hash_spec_are_folded_into_the_checked_hashes(dump):
    desc = dump.files()[0]
    mapping = desc["entrymapping"]
    mapping.pop("hashes")
    mapping["md5"] = hashlib.md5(dump.wheel.content).hexdigest()
    assert dump.read().warnings == []
    mapping["md5"] = "0" * 32
    with pytest.raises(DumpError, match=f"{desc['relpath']}: md5 is "):
        dump.read()
    mapping.pop("md5")
    mapping["hash_spec"] = "sha256=" + "1" * 64
    with pytest.raises(DumpError, match=f"{desc['relpath']}: sha256 is "):
        dump.read()


def test_a_tox_result_with_its_release_files_hash_is_not_checked_against_it(dump):
    release_sha = dump.wheel.sha256
    (tox,) = [desc for desc in dump.files() if desc["type"] == "toxresult"]
    tox["entrymapping"]["hashes"] = {"sha256": release_sha}  # devpi 6.5 to 6.8
    tox["entrymapping"]["hash_spec"] = f"sha256={release_sha}"
    found = entries(dump.read().document, "alice/dev")
    (entry,) = [e for e in found.values() if e["type"] == "toxresult"]
    assert entry["hashes"]["sha256"] == hashlib.sha256(TOXRESULT).hexdigest()


def test_index_config_migrations(dump):
    config = dump.data["indexes"]["alice/dev"]["indexconfig"]
    config.update(pypi_whitelist=["Hello_World"], uploadtrigger_jenkins="", acme_key={"a": 1})
    dump.data["users"]["root"] = {"pwhash": ARGON2}
    dump.index("root/pypi", type="mirror", mirror_url="https://pypi.org/simple/", bases=[])
    dump.data["indexes"]["root/pypi"]["indexconfig"].update(
        acl_upload=["root"], mirror_whitelist=["x"], volatile=False
    )
    document = dump.read().document
    dev = document["indexes"]["alice/dev"]["config"]
    assert dev["mirror_whitelist"] == ["hello-world"] and "pypi_whitelist" not in dev
    assert "uploadtrigger_jenkins" not in dev
    assert dev["acme_key"] == {"a": 1}  # a plugin's key is kept as it is
    assert dev["acl_toxresult_upload"] == [":ANONYMOUS:"]  # defaults are filled in
    mirror = document["indexes"]["root/pypi"]["config"]
    assert mirror == {"type": "mirror", "mirror_url": "https://pypi.org/simple/", "volatile": False}


def test_a_base_that_is_not_in_the_dump_is_left_out_with_a_warning(dump):
    dump.data["indexes"]["alice/dev"]["indexconfig"]["bases"] = ["root/gone"]
    read = dump.read()
    assert read.document["indexes"]["alice/dev"]["config"]["bases"] == []
    assert read.warnings == [
        "index alice/dev: left out the bases that are not in the dump: root/gone"
    ]


def test_metadata_is_stored_as_an_upload_stores_it(dump):
    verdata = dump.data["indexes"]["alice/dev"]["projects"]["hello-world"]["1.0"]
    verdata.update(
        {"+elinks": [], "+doczip": "x", "home_page": "", "platform": ["linux"], "classifiers": []}
    )
    verdata.update(project_urls=["Source, https://example.com/src"], yanked="broken build")
    version = versions_of(dump.read().document, "alice/dev")["1.0"]
    assert not any(key.startswith("+") and key != "+files" for key in version)
    assert "home_page" not in version and "classifiers" not in version
    assert version["platforms"] == ["linux"]
    assert version["project_urls"] == {"Source": "https://example.com/src"}
    assert version["yanked"] is True and version["yanked_reason"] == "broken build"


def test_projects_are_grouped_by_normalised_name_and_named_after_the_newest_version(dump):
    dump.data["indexes"]["alice/dev"]["projects"]["Hello.World"] = {
        "2.0": {"name": "Hello.World", "version": "2.0"}
    }
    project = dump.read().document["indexes"]["alice/dev"]["projects"]["hello-world"]
    assert sorted(project["versions"]) == ["1.0", "2.0"]
    assert project["versions"]["2.0"]["+files"] == []
    assert project["record"] == {"name": "Hello.World"}


def test_file_history_and_times(dump):
    wheel_desc, sdist_desc = dump.files()[:2]
    wheel_desc.pop("log")
    sdist_desc["entrymapping"].pop("last_modified")
    found = entries(dump.read().document, "alice/dev")
    imported = found["releasefile:" + dump.wheel.filename]
    assert imported["log"][0]["who"] == "<import>"
    assert imported["upload_time"] == "2026-11-22T10:52:23.000000Z"
    from_log = found["releasefile:" + dump.sdist.filename]
    assert from_log["upload_time"] == "2026-11-22T10:52:23.000000Z"


def test_of_two_doc_zips_of_a_version_the_last_is_kept(dump):
    newer = doczip({"index.html": b"<h1>newer</h1>"})
    dump.add_file("alice/dev", "hello-world-1.0.doc.zip.2", newer, type="doczip")
    read = dump.read()
    (doc,) = [e for e in entries(read.document, "alice/dev").values() if e["type"] == "doczip"]
    assert doc["hashes"]["sha256"] == hashlib.sha256(newer).hexdigest()
    assert len(read.document["blobs"]) == len(read.sources)
    assert "two doc zips" in read.warnings[0]


def test_the_checked_in_export_is_left_untouched(tmp_path):
    copied = tmp_path / "copy"
    shutil.copytree(DATA / "with-mirror", copied)
    before = sorted(p.relative_to(copied) for p in copied.rglob("*"))
    read_devpi_dump(copied, tmp_path / "work")
    assert sorted(p.relative_to(copied) for p in copied.rglob("*")) == before
