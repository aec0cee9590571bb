"""The cheesecellar export format on the in-memory store: document, reader, writer, round trip."""

from __future__ import annotations

import hashlib
import io
import json
import re
import types as pytypes
from pathlib import Path

import pytest
from tests.functional.distfiles import doczip
from tests.functional.distfiles import sdist
from tests.functional.distfiles import upload_fields
from tests.functional.distfiles import wheel
from webob.multidict import MultiDict

from cheesecellar.auth.passwords import hash_password
from cheesecellar.model import indexes
from cheesecellar.model import keys
from cheesecellar.model import releases
from cheesecellar.model import upload
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage_memory import MemoryStorage
from cheesecellar_export.blobcopy import BlobCopier
from cheesecellar_export.document import build_document
from cheesecellar_export.dump import DOCUMENT_NAME
from cheesecellar_export.dump import FILES_DIR
from cheesecellar_export.dump import DumpError
from cheesecellar_export.exporter import copy_blobs
from cheesecellar_export.exporter import write_document
from cheesecellar_export.reader import read_cellar_export
from cheesecellar_export.snapshots import StorageSnapshot
from cheesecellar_export.validate import validate
from cheesecellar_export.writer import Counts
from cheesecellar_export.writer import write_dump
from cheesecellar_toxresults.store import store_toxresult

SOURCE = {"uuid": "0123", "role": "standalone"}
PLUGIN_RECORD = "webhooks/deliveries/1"


@pytest.fixture(scope="module")
def types():
    return IndexTypeRegistry(make_plugin_manager(entry_points=False))


def form_for(dist) -> MultiDict:
    form = MultiDict(upload_fields(dist))
    form["content"] = pytypes.SimpleNamespace(file=io.BytesIO(dist.content), filename=dist.filename)
    return form


def add_upload(tx, indexname: str, dist) -> None:
    config = tx.get(keys.index(*indexname.split("/")))
    upload.file_upload(tx, indexname, config, form_for(dist), "alice", 10**8)


def add_mirror_file(tx, relpath: str, content: bytes, *, metadata: bytes | None) -> None:
    ref = tx.store_file(relpath, io.BytesIO(content))
    record = {"index": "root/mirror", "project": "idna", "mirror": True}
    record["hashes"] = {"sha256": ref.sha256}
    if metadata is not None:
        tx.store_file(relpath + ".metadata", io.BytesIO(metadata))
    tx.set(keys.file(relpath), record)


def fill(storage, types) -> None:
    """Users, a mirror, a stage with uploads, docs, a tox result and a yank, plugin data."""
    with storage.transaction(write=True) as tx:
        tx.set(keys.user("root"), {"created": "2026-01-01T00:00:00Z", "pwhash": "$argon2id$x"})
        tx.set(keys.user("alice"), {"created": "2026-01-02T00:00:00Z", "pwhash": "$argon2id$y"})
        mirror = {"type": "mirror", "mirror_url": "http://127.0.0.1:1/simple/"}
        indexes.create_index(tx, types, "root", "mirror", mirror)
        body = {"bases": ["root/mirror"], "title": "Dev", "unknown_plugin_key": "kept"}
        tx.set(keys.index("alice", "dev"), {**body, "type": "stage", "volatile": True})
        indexes.create_index(tx, types, "alice", "prod", {"volatile": False})
    with storage.transaction(write=True) as tx:
        for version in ("1.0", "1.1"):
            add_upload(tx, "alice/dev", wheel("Hello.World", version))
            add_upload(tx, "alice/dev", sdist("Hello.World", version))
        add_upload(tx, "alice/prod", wheel("other", "2.0"))
        releases.add_file(
            tx, "alice/dev", "hello-world", "1.0", "hello-world-1.0.doc.zip",
            io.BytesIO(doczip()), hashlib.sha256(doczip()).hexdigest(),
            who="alice", volatile=True, filetype="doczip",
        )  # fmt: skip
        releases.set_yanked(tx, "alice/dev", "hello-world", "1.1", True, "broken")
    with storage.transaction(write=True) as tx:
        found = releases.find_file(tx, wheel_relpath(tx, "alice/dev", "hello-world", "1.0"))
        store_toxresult(tx, "alice/dev", found, b'{"testenvs": {}}', None)
        tx.set(keys.mirror_page("root/mirror", "idna"), {"serial": 3, "entries": []})
        add_mirror_file(
            tx, "root/mirror/+f/abc/0123456789abc/idna-3.7.tar.gz", b"idna", metadata=None
        )
        add_mirror_file(
            tx, "root/mirror/+f/def/0123456789def/idna-3.7-py3-none-any.whl", b"whl", metadata=b"M"
        )
        name_list = tx.store_file("root/mirror/+names/0123.txt", io.BytesIO(b"idna\n"))
        tx.set(keys.mirror_list("root/mirror"), {"relpath": name_list.path})
        tx.set(PLUGIN_RECORD, {"status": 200})


def wheel_relpath(tx, indexname: str, project: str, version: str) -> str:
    verdata = releases.get_version(tx, indexname, project, version)
    return next(e["relpath"] for e in verdata["+files"] if e["filename"].endswith(".whl"))


def export_to(storage, types, target: Path, include_mirrored: bool = False) -> dict:
    target.mkdir(parents=True, exist_ok=True)
    snapshot = StorageSnapshot(storage)
    try:
        built = build_document(snapshot, types, SOURCE, include_mirrored)
        copy_blobs(snapshot, built, BlobCopier(target / FILES_DIR, False, print))
    finally:
        snapshot.close()
    write_document(target / DOCUMENT_NAME, built.document)
    return built.document


def all_records(storage) -> dict:
    with storage.transaction() as tx:
        return {key: tx.get(key) for key in tx.keys("") if not key.startswith("mirrorlist/")}


def all_blobs(storage, records: dict) -> dict[str, bytes]:
    relpaths = [key[len("file/") :] for key in records if key.startswith("file/")]
    relpaths += [path + ".metadata" for path in list(relpaths)]
    found = {}
    for relpath in relpaths:
        try:
            with storage.open_file(relpath) as fp:
                found[relpath] = fp.read()
        except FileNotFoundError:
            pass
    return found


@pytest.fixture
def source(types):
    storage = MemoryStorage()
    fill(storage, types)
    yield storage
    storage.close()


@pytest.fixture
def exported(source, types, tmp_path) -> Path:
    export_to(source, types, tmp_path / "dump", include_mirrored=True)
    return tmp_path / "dump"


def imported(exportdir: Path, types) -> MemoryStorage:
    dump = read_cellar_export(exportdir)
    validate(dump, types)
    storage = MemoryStorage()
    write_dump(storage, dump)
    return storage


def test_round_trip_keeps_every_record_and_blob(source, exported, types):
    copy = imported(exported, types)
    before, after = all_records(source), all_records(copy)
    assert after == before
    assert all_blobs(copy, after) == all_blobs(source, before)
    assert PLUGIN_RECORD in after
    assert after[keys.index("alice", "dev")]["unknown_plugin_key"] == "kept"


def test_document_shape(exported):
    document = json.loads((exported / DOCUMENT_NAME).read_text())
    assert document["format"] == "cheesecellar-export"
    assert document["version"] == 1
    assert document["source"]["uuid"] == "0123"
    assert set(document["users"]) == {"root", "alice"}
    assert document["users"]["alice"]["pwhash"] == "$argon2id$y"
    dev = document["indexes"]["alice/dev"]
    assert set(dev["projects"]["hello-world"]["versions"]) == {"1.0", "1.1"}
    assert dev["projects"]["hello-world"]["versions"]["1.1"]["yanked"] is True
    assert "mirror" not in dev
    types_seen = {
        entry["type"]
        for version in dev["projects"]["hello-world"]["versions"].values()
        for entry in version["+files"]
    }
    assert types_seen == {"releasefile", "doczip", "toxresult"}
    mirror_records = document["indexes"]["root/mirror"]["mirror"]["records"]
    assert keys.mirror_page("root/mirror", "idna") in mirror_records
    assert document["records"] == {PLUGIN_RECORD: {"status": 200}}
    assert not any("+names" in relpath for relpath in document["blobs"])
    for relpath, info in document["blobs"].items():
        content = (exported / FILES_DIR / relpath).read_bytes()
        assert hashlib.sha256(content).hexdigest() == info["sha256"]
        assert len(content) == info["size"]


def test_wheel_metadata_blobs_go_along(exported):
    document = json.loads((exported / DOCUMENT_NAME).read_text())
    wheels = [path for path in document["blobs"] if path.endswith(".whl")]
    assert wheels
    assert all(path + ".metadata" in document["blobs"] for path in wheels if "mirror" not in path)


def test_without_mirrored_files_the_mirror_has_its_config_only(source, types, tmp_path):
    document = export_to(source, types, tmp_path / "dump")
    mirror = document["indexes"]["root/mirror"]
    assert mirror == {"config": mirror["config"], "projects": {}}
    assert not any(path.startswith("root/mirror/") for path in document["blobs"])
    copy = imported(tmp_path / "dump", types)
    with copy.transaction() as tx:
        assert tx.keys("mirror/") == []
        assert tx.keys("file/root/") == []
        assert tx.get(keys.index("root", "mirror"))["type"] == "mirror"


def test_counts(exported):
    counts = Counts.of(json.loads((exported / DOCUMENT_NAME).read_text()))
    assert (counts.users, counts.indexes, counts.projects, counts.versions) == (2, 3, 2, 3)
    assert counts.files == len(list((exported / FILES_DIR).rglob("*.*")))


# --- refusals ------------------------------------------------------------------------------


def rewrite(exportdir: Path, change) -> None:
    path = exportdir / DOCUMENT_NAME
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def prune_unlisted(exportdir: Path) -> None:
    """Remove the files the document no longer lists (the reader refuses them first)."""
    listed = json.loads((exportdir / DOCUMENT_NAME).read_text())["blobs"]
    for path in (exportdir / FILES_DIR).rglob("*"):
        if path.is_file() and path.relative_to(exportdir / FILES_DIR).as_posix() not in listed:
            path.unlink()


def dev_versions(document: dict) -> dict:
    return document["indexes"]["alice/dev"]["projects"]["hello-world"]["versions"]


def first_entry(document: dict, kind: str = "releasefile") -> dict:
    return next(e for e in dev_versions(document)["1.0"]["+files"] if e["type"] == kind)


def drop_blob_of_entry(document):
    del document["blobs"][first_entry(document)["relpath"]]


def point_toxresult_elsewhere(document):
    first_entry(document, "toxresult")["for_relpath"] = "alice/dev/+f/000/nothing.whl"


def add_base(document):
    document["indexes"]["alice/dev"]["config"]["bases"].append("bob/gone")


def entry_sha_differs(document):
    first_entry(document)["hashes"]["sha256"] = "0" * 64


def move_entry_outside(document):
    first_entry(document)["relpath"] = "alice/prod/x.whl"


def unknown_type(document):
    document["indexes"]["alice/prod"]["config"]["type"] = "teleport"


def record_of_known_kind(document):
    document["records"]["user/mallory"] = {"pwhash": "x"}


def record_key_of_the_changelog(document):
    document["records"]["+blob/alice/x"] = {"sha256": "0" * 64, "size": 1}


def bad_user(document):
    document["users"]["bad/name"] = {}


def bad_index(document):
    document["indexes"]["alice/b:d"] = {"config": {"type": "stage"}, "projects": {}}


def index_without_user(document):
    document["indexes"]["bob/dev"] = {"config": {"type": "stage"}, "projects": {}}


def unnormalised_project(document):
    projects = document["indexes"]["alice/dev"]["projects"]
    projects["Hello.World"] = projects.pop("hello-world")


def users_not_object(document):
    document["users"] = ["alice"]


def bad_blob_size(document):
    info = next(iter(document["blobs"].values()))
    info["size"] = "12"


def escaping_relpath(document):
    document["blobs"]["../outside"] = {"sha256": "0" * 64, "size": 1}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (drop_blob_of_entry, "is not listed in blobs"),
        (point_toxresult_elsewhere, "which is no release file of the version"),
        (add_base, "base 'bob/gone' is not in the dump"),
        (entry_sha_differs, "sha256 differs from blobs"),
        (move_entry_outside, "is outside the index"),
        (unknown_type, "unknown index type 'teleport'"),
        (record_of_known_kind, "user/mallory is not a record of a plugin"),
        (record_key_of_the_changelog, "records: bad key '+blob/alice/x'"),
        (bad_user, "contains characters that aren't allowed"),
        (bad_index, "contains characters that aren't allowed"),
        (index_without_user, "its user 'bob' is not in the dump"),
        (unnormalised_project, "the name is not normalised"),
        (users_not_object, "users must be a JSON object"),
        (bad_blob_size, "bad size '12'"),
        (escaping_relpath, "invalid file path '../outside'"),
    ],
)
def test_validation_names_the_problem(exported, types, change, message):
    rewrite(exported, change)
    prune_unlisted(exported)
    with pytest.raises(DumpError, match=re.escape(message)):
        validate(read_cellar_export(exported), types)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=99), "format version 99 is not supported"),
        (lambda d: d.update(format="devpi"), "unknown format 'devpi'"),
    ],
)
def test_reader_refuses_unknown_formats(exported, change, message):
    rewrite(exported, change)
    with pytest.raises(DumpError, match=message):
        read_cellar_export(exported)


def blob_file(exportdir: Path, suffix: str) -> Path:
    return next(p for p in (exportdir / FILES_DIR).rglob(f"*{suffix}") if p.is_file())


def test_truncated_blob_is_found_before_writing(exported, types):
    path = blob_file(exported, ".tar.gz")
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DumpError, match="truncated or changed"):
        validate(read_cellar_export(exported), types)


def test_tampered_blob_is_found_as_it_is_stored(exported, types):
    path = blob_file(exported, "Hello_World-1.1-py3-none-any.whl")
    content = bytearray(path.read_bytes())
    content[-1] ^= 0xFF
    path.write_bytes(bytes(content))
    dump = read_cellar_export(exported)
    validate(dump, types)  # same size: only the content tells
    storage = MemoryStorage()
    relpath = path.relative_to(exported / FILES_DIR).as_posix()
    with pytest.raises(DumpError, match=re.escape(f"blob {relpath}: ") + ".* has sha256"):
        write_dump(storage, dump)


def test_unlisted_file_is_refused(exported):
    (exported / FILES_DIR / "alice" / "stray.txt").write_bytes(b"?")
    with pytest.raises(DumpError, match=r"files/alice/stray\.txt is not listed"):
        read_cellar_export(exported)


def test_missing_blob_file_is_refused(exported, types):
    blob_file(exported, ".doc.zip").unlink()
    with pytest.raises(DumpError, match=r"doc\.zip: its file .* is missing"):
        validate(read_cellar_export(exported), types)


def test_invalid_json_is_refused(exported):
    (exported / DOCUMENT_NAME).write_text('{"format": ')
    with pytest.raises(DumpError, match="is not valid JSON"):
        read_cellar_export(exported)


def test_password_hashes_survive(types, tmp_path):
    storage = MemoryStorage()
    pwhash = hash_password("secret")
    with storage.transaction(write=True) as tx:
        tx.set(keys.user("alice"), {"pwhash": pwhash, "email": "a@example.com"})
    export_to(storage, types, tmp_path / "dump")
    with imported(tmp_path / "dump", types).transaction() as tx:
        assert tx.get(keys.user("alice")) == {"pwhash": pwhash, "email": "a@example.com"}
