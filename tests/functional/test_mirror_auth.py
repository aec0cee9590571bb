"""A private upstream: credentials from mirror_url or a hook, sent to its host only, never shown."""

from __future__ import annotations

import logging

import pytest
import requests
from mirrorkit import admin_session
from mirrorkit import dist_named
from mirrorkit import root_pypi
from mirrorkit import start_root_pypi
from mirrorkit import user_index
from tests.upstream import UpstreamServer

from cheesecellar import hookimpl
from cheesecellar.testing import start_live_cellar
from cheesecellar_mirror.upstream import Fetched
from cheesecellar_mirror.upstream import UpstreamFile
from cheesecellar_mirror.upstream import UpstreamPage

USER = "deploy"
TOKEN = "s3cr3t-t0ken-4f9a"
LONE_TOKEN = "l0ne-t0ken-77c1"
WHEEL_2323 = "requests-2.32.3-py3-none-any.whl"


def with_credentials(url: str, user: str = USER, token: str = TOKEN) -> str:
    return url.replace("http://", f"http://{user}:{token}@", 1)


@pytest.fixture
def private_upstream(make_upstream):
    """An upstream whose index host wants ``USER:TOKEN``; its files are on another host."""
    return make_upstream(auth=(USER, TOKEN))


def test_credentials_in_mirror_url_go_to_the_index_host_only(make_cellar, private_upstream):
    hook = MirrorAuth()
    url = with_credentials(private_upstream.index_url)
    live = make_cellar(plugins=[hook], extra={"mirror_url": url, "request_timeout": 1.0})
    mirror = root_pypi(live, private_upstream)
    mirror.json_page("requests")
    wheel = dist_named(private_upstream, WHEEL_2323)
    assert requests.get(mirror.file_url(wheel), timeout=30).content == wheel.read()
    assert private_upstream.authorized()
    for record in private_upstream.requests:
        host = record.host.rsplit(":", 1)[0]
        assert (record.authorization is not None) == (host == "127.0.0.1"), record
        assert record.status != 401
    assert private_upstream.count("/files/", host="localhost") == 1
    assert hook.asked == []  # credentials in the URL win over the hook
    mirror.patch(f"mirror_url={private_upstream.index_url}")  # now without them
    assert mirror.page("idna").status_code == 200  # the hook gives them
    assert hook.asked == [("root/pypi", private_upstream.index_url)]


class MirrorAuth:
    """Supplies the upstream credentials of ``root/pypi`` through the hook."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    @hookimpl
    def cellar_get_mirror_auth(self, indexname, url):
        self.asked.append((indexname, url))
        return (USER, TOKEN) if indexname == "root/pypi" else None


def test_the_auth_hook_supplies_credentials(make_cellar, private_upstream):
    hook = MirrorAuth()
    live = start_root_pypi(make_cellar, private_upstream, plugins=[hook])
    mirror = root_pypi(live, private_upstream)
    assert "2.32.3" in mirror.json_page("requests")["versions"]
    assert hook.asked == [("root/pypi", private_upstream.index_url)]
    assert private_upstream.authorized()


# --- who sees the credentials ----------------------------------------------------------------
@pytest.fixture(scope="module")
def shown(tmp_path_factory):
    """A server with ``root/pypi`` and ``alice/private`` mirroring a private upstream;
    sessions as anonymous, root, alice and bob; and the upstream URL with credentials."""
    with UpstreamServer(auth=(USER, TOKEN)) as upstream:
        url = with_credentials(upstream.index_url)
        live = start_live_cellar(tmp_path_factory.mktemp("shown"), extra={"mirror_url": url})
        sessions = {"anonymous": live.session(), "root": admin_session(live)}
        for name in ("alice", "bob"):
            sessions[name] = live.session()
            sessions[name].login(*user_index(live, f"{name}/dev"))
        body = {"type": "mirror", "mirror_url": url}
        created = sessions["alice"].put("/alice/private", json=body)
        assert created.status_code == 200, created.text
        assert created.json()["result"]["mirror_url"] == url  # the owner sees what it set
        yield sessions, url
        for session in sessions.values():
            session.close()
        live.stop()


@pytest.mark.parametrize(
    ("index", "privileged"),
    [("root/pypi", {"root"}), ("alice/private", {"root", "alice"})],
)
def test_only_root_and_the_owner_see_the_token(shown, index, privileged):
    sessions, url = shown
    masked = url.replace(TOKEN, "****")
    user, name = index.split("/")
    for who, session in sessions.items():
        expected = url if who in privileged else masked
        index_reply = session.get(f"/{index}")
        assert index_reply.json()["result"]["mirror_url"] == expected, who
        user_reply = session.get(f"/{user}")
        assert user_reply.json()["result"]["indexes"][name]["mirror_url"] == expected, who
        everyone = session.get("/").json()["result"]
        assert everyone[user]["indexes"][name]["mirror_url"] == expected, who
        for reply in (index_reply, user_reply):
            assert (TOKEN in reply.text) == (who in privileged), who
        for path in ("/+api", "/+status", f"/{index}/+api", f"/{index}/+simple/"):
            assert TOKEN not in session.get(path).text, (who, path)


def test_a_change_by_root_is_answered_in_full_to_root(shown):
    sessions, url = shown
    reply = sessions["root"].patch("/alice/private", json=["mirror_cache_expiry=60"])
    assert reply.status_code == 200
    assert reply.json()["result"]["mirror_url"] == url


def test_a_token_given_as_the_user_name_is_masked_too(shown):
    sessions, url = shown
    token_url = url.replace(f"{USER}:{TOKEN}@", f"{LONE_TOKEN}@")
    created = sessions["root"].put(
        "/root/bytoken", json={"type": "mirror", "mirror_url": token_url}
    )
    assert created.status_code == 200, created.text
    assert LONE_TOKEN not in sessions["anonymous"].get("/root/bytoken").text


# --- logs ------------------------------------------------------------------------------------
def test_the_token_never_reaches_the_log(make_cellar, private_upstream, caplog):
    caplog.set_level(logging.DEBUG)
    url = with_credentials(private_upstream.index_url)
    mirror = root_pypi(make_cellar(extra={"mirror_url": url}), private_upstream)
    mirror.json_page("requests")
    wheel = dist_named(private_upstream, WHEEL_2323)
    private_upstream.fault(WHEEL_2323, "corrupt")
    broken = requests.get(mirror.file_url(wheel), timeout=30)
    private_upstream.fault("/simple/*", 401)
    unauthorised = mirror.page("idna")
    private_upstream.stop()
    stopped = mirror.page("urllib3")
    for reply in (unauthorised, stopped):
        assert reply.status_code == 502
        assert TOKEN not in reply.text
    assert TOKEN not in broken.text
    for expected in (WHEEL_2323, "idna", "urllib3"):
        assert expected in caplog.text
    assert TOKEN not in caplog.text


# --- another upstream client -----------------------------------------------------------------
class FixedUpstream:
    """An upstream client from a plugin: one page, whatever is asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.closed = False

    def fetch_project(self, project, *, etag=None, last_modified=None):
        self.asked.append(project)
        file = UpstreamFile(
            filename=f"{project}-1.0.tar.gz",
            url=f"https://files.example/{project}-1.0.tar.gz",
            hashes={"sha256": "ab" * 32},
        )
        return Fetched("ok", UpstreamPage(name=project, files=(file,)))

    def close(self):
        self.closed = True


class ReplacesUpstream:
    def __init__(self) -> None:
        self.client = FixedUpstream()

    @hookimpl
    def cellar_get_upstream(self, indexname, ixconfig, settings):
        return self.client if indexname == "root/pypi" else None


def test_the_upstream_hook_replaces_the_client(make_cellar, upstream):
    plugin = ReplacesUpstream()
    mirror = root_pypi(start_root_pypi(make_cellar, upstream, plugins=[plugin]), upstream)
    files = mirror.json_page("anything")["files"]
    assert [entry["filename"] for entry in files] == ["anything-1.0.tar.gz"]
    assert files[0]["hashes"] == {"sha256": "ab" * 32}
    assert plugin.client.asked == ["anything"]
    assert upstream.requests == []
