"""``cellar export`` beside a server that keeps writing: each export is one consistent state."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import pytest
import requests
from distfiles import upload
from distfiles import wheel

from cheesecellar.cli import main
from cheesecellar.testing import start_live_cellar

ALICE = ("alice", "alicepw")


@pytest.fixture
def busy(tmp_path):
    """A server with uploads and removals going on until the test ends."""
    live = start_live_cellar(tmp_path / "server", extra={"no_root_pypi": True})
    with live.session() as api:
        api.login("root", "")
        api.put("/alice", json={"password": "alicepw"}).raise_for_status()
        api.login(*ALICE)
        api.put("/alice/dev", json={}).raise_for_status()
    stop = threading.Event()
    errors: list[str] = []

    def churn() -> None:
        for number in itertools.count():
            if stop.is_set():
                return
            reply = upload(
                f"{live.url}/alice/dev/", wheel(f"churn{number % 7}", f"1.{number}"), ALICE
            )
            if reply.status_code != 200:
                errors.append(reply.text)
            if number % 3 == 2:
                gone = f"{live.url}/alice/dev/churn{(number - 2) % 7}/1.{number - 2}"
                requests.delete(gone, auth=ALICE, timeout=30)

    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    yield live
    stop.set()
    worker.join(30)
    live.stop()
    assert errors == []


def test_exports_during_writes_import_cleanly(busy, tmp_path):
    serials = []
    for attempt in range(3):
        exportdir = tmp_path / f"export{attempt}"
        assert main(["export", "--serverdir", str(busy.serverdir), str(exportdir)]) == 0
        serials.append(
            json.loads((exportdir / "cellar-export.json").read_text())["source"]["serial"]
        )
        # The import checks every file against the document: a mixed state would not pass.
        assert (
            main(["import", "--serverdir", str(tmp_path / f"copy{attempt}"), str(exportdir)]) == 0
        )
    assert serials == sorted(serials)


def test_a_file_missing_from_the_tree_fails_the_export(tmp_path, capsys):
    live = start_live_cellar(tmp_path / "server", extra={"no_root_pypi": True})
    try:
        with live.session() as api:
            api.login("root", "")
            api.put("/alice", json={"password": "alicepw"}).raise_for_status()
            api.login(*ALICE)
            api.put("/alice/dev", json={}).raise_for_status()
        assert upload(f"{live.url}/alice/dev/", wheel("lost", "1.0"), ALICE).status_code == 200
        live.storage.wait_for_files()
    finally:
        live.stop()
    lost = next(Path(tmp_path / "server" / "+files").rglob("lost-1.0-py3-none-any.whl"))
    lost.unlink()
    code = main(["export", "--serverdir", str(tmp_path / "server"), str(tmp_path / "dump")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("cellar export: error: ")
    assert "lost-1.0-py3-none-any.whl is missing" in err
    assert not (tmp_path / "dump").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server"]
