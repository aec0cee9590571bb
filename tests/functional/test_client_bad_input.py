"""Bad input to the ``cellar`` client: a clear message, a non-zero exit, nothing changed."""

from __future__ import annotations

import pytest
from clientkit import CellarCLI
from clientkit import ClientEnv
from distfiles import upload
from distfiles import wheel


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    return CellarCLI(ClientEnv(tmp_path), capsys, monkeypatch)


@pytest.fixture(scope="module")
def badsite(server):
    """``bert/dev`` with ``keepme`` 1.0 and 2.0 in it."""
    with server.session() as session:
        session.put("/bert", json={"password": "bertpw", "email": "b@example.org"})
        session.login("bert", "bertpw")
        session.put("/bert/dev", json={}).raise_for_status()
    for version in ("1.0", "2.0"):
        reply = upload(f"{server.url}/bert/dev/", wheel("keepme", version), ("bert", "bertpw"))
        assert reply.status_code == 200, reply.text
    return server


@pytest.fixture
def on_dev(badsite, cli):
    """The client uses ``bert/dev`` without logging in."""
    cli.ok("use", f"{badsite.url}/bert/dev")
    return cli


def versions(anon, project: str = "keepme") -> list[str]:
    return sorted(anon.get(f"/bert/dev/{project}").json()["result"])


def test_no_server_selected(cli):
    assert "cellar use URL" in cli.fails("list").err
    assert "no server selected" in cli.ok("use").out


def test_unreachable_server(cli):
    failed = cli.fails("use", "http://127.0.0.1:9")
    assert "cannot reach the server" in failed.err
    assert not cli.env.state_file.exists()


def test_unknown_index_keeps_the_current_one(on_dev):
    before = on_dev.env.state_file.read_bytes()
    failed = on_dev.fails("use", "nobody/nothing")
    assert "index nobody/nothing does not exist" in failed.err
    assert on_dev.env.state_file.read_bytes() == before
    assert "404" in on_dev.fails("list", "--index", "nobody/nothing").err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("remove", "-y", "keep me"), "malformed spec 'keep me'"),
        (("remove", "-y", "keepme[extra]"), "malformed spec"),
        (("list", "keepme>>1"), "malformed spec"),
        (("push", "keepme", "bert/prod"), "expected NAME==VERSION"),
        (("push", "keepme==1.0", "prod/"), "expected USER/INDEX"),
        (("yank", "keepme>=1"), "expected NAME==VERSION"),
        (("index", "-c", "bert/x", "volatile"), "expected key=value"),
        (("user", "-c", "zed", "password=x", "colour=red"), "unknown user setting 'colour'"),
        (("use", "ftp://example.org"), "invalid URL"),
        (("use", "a/b/c"), "invalid index name"),
        (("user", "--delete", "-y"), "give the user to delete"),
        (("index", "--delete", "-y"), "give the index to delete"),
    ],
)
def test_malformed_input_changes_nothing(on_dev, anon, argv, message):
    assert message in on_dev.fails(*argv).err
    assert versions(anon) == ["1.0", "2.0"]
    assert anon.get("/zed").status_code == 404
    assert anon.get("/bert/x").status_code == 404


def test_wrong_password(on_dev):
    before = on_dev.env.state_file.read_bytes()
    failed = on_dev.fails("login", "bert", "--password", "wrong")
    assert "login failed: user 'bert' could not be authenticated" in failed.err
    assert "wrong" not in failed.text.replace("login failed", "")
    assert on_dev.env.state_file.read_bytes() == before
    assert "(not logged in)" in on_dev.ok("use").out


def test_no_password_and_no_terminal(on_dev):
    assert "give --password" in on_dev.fails("login", "bert").err
    assert "password=..." in on_dev.fails("user", "-c", "nopw").err


def test_not_logged_in_changes_nothing(on_dev, anon):
    created = on_dev.fails("index", "-c", "bert/new")
    assert "log in with: cellar login" in created.err
    assert anon.get("/bert/new").status_code == 404
    assert "log in with" in on_dev.fails("yank", "keepme==1.0").err
    assert not anon.get("/bert/dev/keepme/1.0").json()["result"].get("yanked")
    assert on_dev.fails("remove", "-y", "keepme==1.0").code == 1
    assert on_dev.fails("user", "-m", "bert", "email=x@example.org").code == 1
    assert anon.get("/bert").json()["result"]["email"] == "b@example.org"
    assert versions(anon) == ["1.0", "2.0"]


def test_removal_needs_confirmation(on_dev, anon):
    on_dev.ok("login", "bert", "--password", "bertpw")
    failed = on_dev.fails("remove", "keepme==1.0")
    assert "add -y to confirm" in failed.err
    assert "no release files matching 'keepme==3.0'" in on_dev.fails("remove", "keepme==3.0").err
    assert "no project 'gone'" in on_dev.fails("remove", "-y", "gone").err
    assert versions(anon) == ["1.0", "2.0"]


def test_push_to_a_missing_index_changes_nothing(on_dev, anon):
    on_dev.ok("login", "bert", "--password", "bertpw")
    failed = on_dev.fails("push", "keepme==1.0", "bert/nothere")
    assert "bert/nothere" in failed.err
    assert anon.get("/bert/nothere").status_code == 404
    assert "no files for keepme 9.9" in on_dev.fails("push", "keepme==9.9", "bert/dev").err
