"""Bad input to ``cellar export`` and ``cellar import``: one clear line, nothing half done."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from distfiles import sdist
from distfiles import upload
from distfiles import wheel

from cheesecellar.cli import main
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.serverdir import root_has_empty_password
from cheesecellar.storage import open_storage
from cheesecellar.testing import start_live_cellar

CELLAR = [sys.executable, "-m", "cheesecellar.cli"]
ALICE = ("alice", "alicepw")


@pytest.fixture(autouse=True)
def no_cellar_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("CELLAR_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    live = start_live_cellar(
        tmp_path_factory.mktemp("bad-source") / "server", extra={"no_root_pypi": True}
    )
    with live.session() as api:
        api.login("root", "")
        api.put("/alice", json={"password": "alicepw"}).raise_for_status()
        api.login(*ALICE)
        api.put("/alice/dev", json={}).raise_for_status()
    for dist in (wheel("Pkg.One", "1.0"), sdist("Pkg.One", "1.0")):
        assert upload(f"{live.url}/alice/dev/", dist, ALICE).status_code == 200
    yield live
    live.stop()


@pytest.fixture(scope="module")
def good_dump(source, tmp_path_factory) -> Path:
    exportdir = tmp_path_factory.mktemp("bad-dumps") / "good"
    assert main(["export", "--serverdir", str(source.serverdir), str(exportdir)]) == 0
    return exportdir


@pytest.fixture
def dump(good_dump, tmp_path) -> Path:
    """A fresh copy of the good dump, for this test to break."""
    return Path(shutil.copytree(good_dump, tmp_path / "dump"))


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(arg) for arg in argv])
    return code, capsys.readouterr().err


def refused(capsys, command: str, *argv) -> str:
    """Run a command that must fail: exit 1 and one line naming the problem; return it."""
    code, err = run(capsys, command, *argv)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"cellar {command}: error: ")
    return lines[0]


def import_refused(capsys, dump: Path, serverdir: Path) -> str:
    line = refused(capsys, "import", "--serverdir", serverdir, dump)
    assert not serverdir.exists()
    assert [p.name for p in serverdir.parent.iterdir() if p.name.startswith(".")] == []
    return line


def document(dump: Path) -> dict:
    return json.loads((dump / "cellar-export.json").read_text())


def save(dump: Path, data: dict) -> None:
    (dump / "cellar-export.json").write_text(json.dumps(data))


def blob(dump: Path, suffix: str) -> Path:
    return next(p for p in (dump / "files").rglob(f"*{suffix}") if p.is_file())


def test_good_dump_imports(dump, tmp_path, capsys):
    code, err = run(capsys, "import", "--serverdir", tmp_path / "server", dump)
    assert code == 0, err
    # root kept its empty password: the imported server warns about it, as after init.
    storage = open_storage(make_plugin_manager(entry_points=False), tmp_path / "server", ("fs", {}))
    try:
        assert root_has_empty_password(storage)
    finally:
        storage.close()


def test_export_into_a_non_empty_directory(source, tmp_path, capsys):
    target = tmp_path / "target"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    line = refused(capsys, "export", "--serverdir", source.serverdir, target)
    assert "is not empty" in line
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["target"]


def test_export_of_a_directory_that_is_no_server(tmp_path, capsys):
    line = refused(capsys, "export", "--serverdir", tmp_path, tmp_path / "dump")
    assert "is not a server directory" in line
    assert not (tmp_path / "dump").exists()


def test_import_into_a_non_empty_server_directory(source, dump, tmp_path, capsys):
    serverdir = tmp_path / "server"
    serverdir.mkdir()
    (serverdir / "data.txt").write_text("precious")
    line = refused(capsys, "import", "--serverdir", serverdir, dump)
    assert "is not empty" in line
    assert [p.name for p in serverdir.iterdir()] == ["data.txt"]


def test_import_into_the_running_server_directory(source, dump, capsys):
    line = refused(capsys, "import", "--serverdir", source.serverdir, dump)
    assert "is not empty" in line


def test_a_failed_import_leaves_an_existing_empty_directory_empty(dump, tmp_path, capsys):
    path = blob(dump, ".whl")
    path.write_bytes(b"x" * path.stat().st_size)
    serverdir = tmp_path / "volume"
    serverdir.mkdir()
    (serverdir / ".secret").write_bytes(b"s" * 40)
    line = refused(capsys, "import", "--serverdir", serverdir, dump)
    assert "sha256" in line
    assert [p.name for p in serverdir.iterdir()] == [".secret"]


def test_truncated_blob(dump, tmp_path, capsys):
    path = blob(dump, ".tar.gz")
    path.write_bytes(path.read_bytes()[:-10])
    line = import_refused(capsys, dump, tmp_path / "server")
    assert path.name in line
    assert "truncated or changed" in line


def test_tampered_blob_same_size(dump, tmp_path, capsys):
    path = blob(dump, ".tar.gz")
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))
    line = import_refused(capsys, dump, tmp_path / "server")
    assert path.name in line
    assert "the dump lists" in line


def test_missing_blob(dump, tmp_path, capsys):
    path = blob(dump, ".whl.metadata")
    path.unlink()
    line = import_refused(capsys, dump, tmp_path / "server")
    assert f"{path.name}: its file" in line
    assert "is missing" in line


def test_extra_unlisted_blob(dump, tmp_path, capsys):
    (dump / "files" / "alice" / "dev" / "extra.whl").write_bytes(b"surprise")
    line = import_refused(capsys, dump, tmp_path / "server")
    assert "files/alice/dev/extra.whl is not listed in cellar-export.json" in line


def test_invalid_json(dump, tmp_path, capsys):
    (dump / "cellar-export.json").write_text('{"format": "cheesecellar-export", ')
    line = import_refused(capsys, dump, tmp_path / "server")
    assert "is not valid JSON" in line


def test_neither_document(dump, tmp_path, capsys):
    (dump / "cellar-export.json").unlink()
    line = import_refused(capsys, dump, tmp_path / "server")
    assert "neither cellar-export.json" in line
    assert "nor dataindex.json" in line


def test_export_directory_that_does_not_exist(tmp_path, capsys):
    line = import_refused(capsys, tmp_path / "nowhere", tmp_path / "server")
    assert "is not a directory" in line


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "something-else"}, "unknown format 'something-else'"),
        ({"version": 99}, "format version 99 is not supported"),
    ],
)
def test_unknown_format_or_version(dump, tmp_path, capsys, change, message):
    save(dump, {**document(dump), **change})
    assert message in import_refused(capsys, dump, tmp_path / "server")


def test_entry_pointing_at_an_unlisted_blob(dump, tmp_path, capsys):
    data = document(dump)
    versions = data["indexes"]["alice/dev"]["projects"]["pkg-one"]["versions"]
    entry = versions["1.0"]["+files"][0]
    entry["relpath"] = entry["relpath"].rsplit("/", 1)[0] + "/Other-1.0.tar.gz"
    save(dump, data)
    line = import_refused(capsys, dump, tmp_path / "server")
    assert "Other-1.0.tar.gz is not listed in blobs" in line


def test_bad_user_name(dump, tmp_path, capsys):
    data = document(dump)
    data["users"]["al ice"] = data["users"]["alice"]
    save(dump, data)
    line = import_refused(capsys, dump, tmp_path / "server")
    assert "user 'al ice'" in line


def test_bad_index_name(dump, tmp_path, capsys):
    data = document(dump)
    data["indexes"]["alice/+dev"] = data["indexes"].pop("alice/dev")
    save(dump, data)
    line = import_refused(capsys, dump, tmp_path / "server")
    assert "index alice/+dev" in line


def test_subprocess_exit_code_and_message(dump, tmp_path):
    """The real command: exit status 1 and the one line on stderr, no traceback."""
    save(dump, {**document(dump), "version": 99})
    serverdir = tmp_path / "server"
    done = subprocess.run(
        [*CELLAR, "import", "--serverdir", str(serverdir), str(dump)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("CELLAR_")},
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("cellar import: error: ")
    assert "Traceback" not in done.stderr
    assert not serverdir.exists()
