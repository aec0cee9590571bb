"""The ``cellar`` client commands against a live server: the seed's scenario and the rest."""

from __future__ import annotations

import json

import pytest
import requests
from clientkit import CellarCLI
from clientkit import ClientEnv
from clientkit import run_cellar
from clientkit import toxresult
from distfiles import upload
from distfiles import wheel

COMMANDS = (
    "use", "login", "logoff", "user", "index", "list", "remove",
    "push", "yank", "refresh", "getjson",
)  # fmt: skip


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    return CellarCLI(ClientEnv(tmp_path), capsys, monkeypatch)


def make_user(server, user: str, *indexes: str, **index_config) -> None:
    """Create ``user`` (password ``{user}pw``) with stage indexes of that name."""
    with server.session() as session:
        session.put(f"/{user}", json={"password": f"{user}pw"}).raise_for_status()
        session.login(user, f"{user}pw")
        for index in indexes:
            session.put(f"/{user}/{index}", json=index_config).raise_for_status()


def upload_versions(server, index: str, name: str, *versions: str) -> None:
    user = index.split("/")[0]
    for version in versions:
        reply = upload(f"{server.url}/{index}/", wheel(name, version), (user, f"{user}pw"))
        assert reply.status_code == 200, reply.text


def test_every_command_has_help(cli):
    for command in COMMANDS:
        result = cli(command, "--help")
        assert result.code == 0
        assert f"usage: cellar {command}" in result.out


def test_seed_scenario(server, cli, anon):
    """Seed 1's walk-through: users, login, indexes with bases, use, modify, delete a user."""
    url = server.url
    first = cli.ok("use", url).out
    assert f"using server: {url} (not logged in)" in first
    assert "no current index" in first
    assert "logged in 'root'" in cli.ok("login", "root", "--password", "").out
    created = cli.ok("user", "-c", "emilie", "password=1234", "email=emilie@example.org")
    assert created.out == "user created: emilie\n"
    cli.ok("user", "-c", "sophie", "password=1234")
    assert {"emilie", "root", "sophie"} <= set(cli.ok("user", "-l").out.split())
    userjson = json.loads(cli.ok("getjson", "/emilie").out)
    assert userjson["type"] == "userconfig"
    assert userjson["result"]["email"] == "emilie@example.org"

    login = cli.ok("login", "emilie", "--password", "1234").out
    assert "logged in 'emilie'" in login and "credentials valid for 10.00 hours" in login
    prod = cli.ok("index", "-c", "prod", "volatile=False").out.splitlines()
    assert prod[:5] == [
        f"{url}/emilie/prod:",
        "  type=stage",
        "  bases=",
        "  volatile=False",
        "  acl_upload=emilie",
    ]
    dev = cli.ok("index", "-c", "dev", "bases=/emilie/prod", "volatile=True").out
    assert "  bases=emilie/prod\n" in dev
    assert cli.ok("index", "-l").out.splitlines() == ["emilie/dev", "emilie/prod"]
    used = cli.ok("use", "dev").out
    assert f"current index: {url}/emilie/dev (logged in as emilie)" in used

    cli.ok("login", "sophie", "--password", "1234")
    cli.ok("index", "-c", "dev")
    cli.ok("login", "emilie", "--password", "1234")
    changed = cli.ok("index", "/emilie/dev", "bases=/emilie/prod,/sophie/dev").out
    assert "/emilie/dev bases=/emilie/prod,/sophie/dev\n" in changed
    assert "  bases=emilie/prod,sophie/dev\n" in changed
    assert anon.get("/emilie/dev").json()["result"]["bases"] == ["emilie/prod", "sophie/dev"]
    shown = cli.ok("index").out
    assert shown.startswith(f"{url}/emilie/dev:\n  type=stage\n  bases=emilie/prod,sophie/dev\n")
    listed = {line.split()[0]: line.split()[1:] for line in cli.ok("use", "-l").out.splitlines()}
    assert listed["emilie/dev"] == ["bases=emilie/prod,sophie/dev", "volatile=True"]
    assert listed["emilie/prod"] == ["bases=", "volatile=False"]
    sophies = cli.ok("use", "-l", "-u", "sophie").out.split()
    assert sophies == ["sophie/dev", "bases=", "volatile=True"]

    cli.ok("login", "root", "--password", "")
    cli.ok("user", "-c", "mistake", "password=x")
    deleted = cli.ok("user", "mistake", "-y", "--delete").out
    assert "user deleted: mistake" in deleted
    assert anon.get("/mistake").status_code == 404


def test_index_modify_operations_and_delete(server, cli, anon):
    make_user(server, "ivan", "dev", "tmp")
    cli.ok("use", f"{server.url}/ivan/dev")
    cli.ok("login", "ivan", "--password", "ivanpw")
    added = cli.ok("index", "acl_upload+=bob", "title=Ivan's").out
    assert "  acl_upload=ivan,bob\n" in added and "  title=Ivan's\n" in added
    cli.ok("index", "ivan/dev", "acl_upload-=bob")
    assert anon.get("/ivan/dev").json()["result"]["acl_upload"] == ["ivan"]
    cli.ok("use", "ivan/tmp")
    deleted = cli.ok("index", "--delete", "tmp", "-y").out
    assert "index deleted: ivan/tmp" in deleted and "that was the current index" in deleted
    assert anon.get("/ivan/tmp").status_code == 404
    assert cli.env.state()["index"] is None


def test_user_show_and_modify(server, cli, anon):
    make_user(server, "mona")
    cli.ok("use", server.url)
    cli.ok("login", "mona", "--password", "monapw")
    changed = cli.ok("user", "-m", "mona", "email=mona@example.org").out
    assert "/mona changing email: mona@example.org" in changed
    assert "user modified: mona" in changed
    shown = cli.ok("user").out
    assert shown.startswith(f"{server.url}/mona:\n") and "  email=mona@example.org" in shown
    password = cli.ok("user", "-m", "password=newsecret").out
    assert "newsecret" not in password and "changing password: ********" in password
    # the fresh token from the password change keeps the client logged in
    assert "logged in as mona" in cli.ok("use").out
    assert requests.post(
        f"{server.url}/+login", json={"user": "mona", "password": "newsecret"}, timeout=30
    ).ok


def test_list_push_remove_yank(server, cli, anon):
    make_user(server, "dana", "dev")
    with server.session() as session:
        session.login("dana", "danapw")
        session.put("/dana/prod", json={"volatile": False}).raise_for_status()
    upload_versions(server, "dana/dev", "hello-world", "1.0", "1.1", "1.2", "2.0")
    cli.ok("use", f"{server.url}/dana/dev")
    cli.ok("login", "dana", "--password", "danapw")
    files = f"{server.url}/dana/dev/+f/"

    assert cli.ok("list").out == "hello-world\n"
    assert cli.ok("list", "-v").out == "hello-world==2.0\n"
    newest = cli.ok("list", "hello-world").out.splitlines()
    assert [line.rsplit("/", 1)[-1] for line in newest[:3]] == [
        "hello_world-2.0-py3-none-any.whl",
        "hello_world-1.2-py3-none-any.whl",
        "hello_world-1.1-py3-none-any.whl",
    ]
    assert all(line.startswith(files) for line in newest[:3])
    assert newest[3] == "1 older versions not shown, use --all to see"
    assert len(cli.ok("list", "hello-world", "--all").out.splitlines()) == 4
    assert len(cli.ok("list", "hello-world==1.0").out.splitlines()) == 1

    pushed = cli.ok("push", "hello-world==1.0", "dana/prod").out
    assert "200 register hello-world 1.0 -> dana/prod" in pushed
    assert anon.get("/dana/prod/hello-world/1.0").status_code == 200
    again = cli.fails("push", "hello-world==1.0", "dana/prod")
    assert "409" in again.err and "non-volatile" in again.err

    removed = cli.ok("remove", "-y", "hello-world==1.1").out
    assert "deleting release 1.1 of hello-world" in removed
    assert anon.get("/dana/dev/hello-world/1.1").status_code == 404
    assert anon.get("/dana/dev/hello-world/1.2").status_code == 200
    cli.ok("remove", "-y", newest[0])
    assert anon.get("/dana/dev/hello-world/2.0").status_code == 404

    assert "yanked hello-world 1.2" in cli.ok("yank", "hello-world==1.2", "--reason", "bad").out
    yanked = anon.get("/dana/dev/hello-world/1.2").json()["result"]
    assert yanked["yanked"] is True and yanked["yanked_reason"] == "bad"
    cli.ok("yank", "hello-world==1.2", "--undo")
    assert not anon.get("/dana/dev/hello-world/1.2").json()["result"].get("yanked")

    assert "deleted project hello-world" in cli.ok("remove", "-y", "hello-world").out
    assert anon.get("/dana/dev/hello-world?ignore_bases").status_code == 404
    assert anon.get("/dana/prod/hello-world/1.0").status_code == 200


def test_list_shows_tox_results(server, cli):
    make_user(server, "tess", "dev")
    upload_versions(server, "tess/dev", "toxy", "1.0")
    cli.ok("use", f"{server.url}/tess/dev")
    href = cli.ok("list", "toxy").out.strip()
    post_toxresult(href, toxresult("py311"))
    post_toxresult(href, toxresult("py312", retcode=1, output="AssertionError: boom\n"))

    listed = cli.ok("list", "-t", "toxy").out.splitlines()
    assert listed[0] == href
    assert "  ci-host    linux   py311      3.11.7 tests passed" in listed
    assert "  ci-host    linux   py312      3.11.7 tests failed" in listed
    failures = cli.ok("list", "-f", "toxy").out
    assert "    FAIL: python -m pytest" in failures and "    AssertionError: boom" in failures

    post_toxresult(href, toxresult("py311", retcode=2))  # a newer run replaces the older one
    newer = cli.ok("list", "-t", "toxy").out.splitlines()
    assert [line for line in newer if "py311" in line] == [
        "  ci-host    linux   py311      3.11.7 tests failed"
    ]
    assert "tests" not in cli.ok("list", "toxy").out


def post_toxresult(href: str, data: dict) -> None:
    reply = requests.post(href, json=data, headers={"Accept": "application/json"}, timeout=30)
    assert reply.status_code == 200, reply.text


def test_getjson_and_refresh(server, cli):
    make_user(server, "gina", "dev")
    upload_versions(server, "gina/dev", "getme", "0.1")
    cli.ok("use", f"{server.url}/gina/dev")
    relative = json.loads(cli.ok("getjson", "getme").out)
    assert relative["type"] == "projectconfig" and list(relative["result"]) == ["0.1"]
    absolute = json.loads(cli.ok("getjson", f"{server.url}/gina/dev").out)
    assert absolute["result"]["type"] == "stage"
    assert cli.ok("refresh", "GetMe").out == "refreshed getme on gina/dev\n"
    assert "no project 'nothere'" in cli.fails("refresh", "nothere").err


def test_logoff(server, cli):
    make_user(server, "lou")
    cli.ok("use", server.url)
    cli.ok("login", "lou", "--password", "loupw")
    assert "'lou' deleted" in cli.ok("logoff").out
    assert cli.env.state()["token"] is None
    assert "(not logged in)" in cli.ok("use").out


def test_commands_as_subprocesses_never_show_secrets(server, tmp_path):
    make_user(server, "sub", "dev")
    env = ClientEnv(tmp_path)
    results = [
        run_cellar(env, "use", f"{server.url}/sub/dev"),
        run_cellar(env, "login", "sub", "--password", "subpw"),
        run_cellar(env, "list"),
        run_cellar(env, "use"),
    ]
    assert [result.code for result in results] == [0, 0, 0, 0], results
    token = env.state()["token"]
    for result in results:
        assert "subpw" not in result.text and token not in result.text
    assert "current index" in results[-1].out and "logged in as sub" in results[-1].out
