"""Every hook in hookspecs is called, with sensible arguments, by the CLI or a live server.

``Recorder`` implements every hook and remembers the calls. A hook added to hookspecs
without a ``Recorder`` method, or without an action in ``tour`` that calls it, fails
``test_recorder_implements_every_hook`` or ``test_the_tour_calls_every_hook``.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import defaultdict

import pytest
import requests
from distfiles import upload
from distfiles import wheel
from replicakit import FAST
from replicakit import PLUGINS as REPLICA_PLUGINS
from replicakit import make_secret
from replicakit import start_primary
from replicakit import wait_for

from cheesecellar import hookimpl
from cheesecellar import hookspecs
from cheesecellar.auth.identity import Credentials
from cheesecellar.auth.identity import Identity
from cheesecellar.cli import build_parser
from cheesecellar.config import add_server_options
from cheesecellar.config import resolve_settings
from cheesecellar.interfaces import IStorage
from cheesecellar.model import users
from cheesecellar.model.indextypes import ConfigKey
from cheesecellar.model.indextypes import IndexType
from cheesecellar.model.indextypes import to_str
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage import StorageBackend

HOOKS = sorted(name for name in vars(hookspecs) if name.startswith("cellar_"))
PLUGIN_SECRET = "recorder-secret"
#: The recorder's cellar_on_replicated_file raises for the files of this project.
HOOK_FAILS = "hook-fails"
EVENT_WAIT = 10.0


class Recorder:
    """A plugin with every hook; ``calls[hookname]`` lists the keyword arguments seen."""

    def __init__(self) -> None:
        self._calls: dict[str, list[dict]] = defaultdict(list)
        self._order: list[str] = []
        self._lock = threading.Lock()

    def record(self, name: str, /, **kwargs) -> None:
        with self._lock:
            self._calls[name].append(kwargs)
            self._order.append(name)

    def calls(self, name: str) -> list[dict]:
        with self._lock:
            return list(self._calls.get(name, ()))

    def names(self) -> set[str]:
        with self._lock:
            return set(self._calls)

    def first_call_order(self, *names: str) -> list[str]:
        with self._lock:
            return sorted(names, key=self._order.index)

    # --- command line -------------------------------------------------------------------

    @hookimpl
    def cellar_add_options(self, parser):
        self.record("cellar_add_options", parser=parser)
        parser.add_argument("--recorder-greeting", default="hello", help="what /+hello says")

    @hookimpl
    def cellar_register_commands(self, subparsers):
        self.record("cellar_register_commands", subparsers=subparsers)
        command = subparsers.add_parser("record", help="record that it ran")
        command.add_argument("--times", type=int, default=1)
        command.set_defaults(func=self.run_record_command)

    def run_record_command(self, args, options) -> int:
        self.record("record command", times=args.times, pm=args.pm, options=options)
        return 7

    # --- configuration and lifecycle ----------------------------------------------------

    @hookimpl
    def cellar_configure(self, settings):
        self.record("cellar_configure", settings=settings)

    @hookimpl
    def cellar_startup(self, registry):
        self.record("cellar_startup", registry=registry)

    @hookimpl
    def cellar_shutdown(self, registry):
        self.record("cellar_shutdown", registry=registry)

    @hookimpl
    def cellar_init_serverdir(self, tx, settings):
        self.record(
            "cellar_init_serverdir", root=users.get_user(tx, "root"), serverdir=settings.serverdir
        )
        users.create_user_with_hash(tx, "recorded", None)

    # --- web ----------------------------------------------------------------------------

    @hookimpl
    def cellar_pyramid_configure(self, config):
        self.record("cellar_pyramid_configure", config=config)
        config.add_route("recorder.hello", "/+hello")
        config.add_view(
            hello_view, route_name="recorder.hello", renderer="json", request_method="GET"
        )

    @hookimpl
    def cellar_get_features(self):
        self.record("cellar_get_features")
        return {"recorder"}

    # --- storage ------------------------------------------------------------------------

    @hookimpl
    def cellar_register_storage(self, registry):
        self.record("cellar_register_storage", registry=registry)

        def open_recorded(basedir, options):
            # Wraps the fs backend, looked up when opened: it registers after this plugin.
            self.record("recorded storage opened", basedir=basedir, options=dict(options))
            return registry.get("fs").factory(basedir, {})

        registry.add(StorageBackend("recorded", open_recorded, "fs, with a record of opens"))

    # --- indexes ------------------------------------------------------------------------

    @hookimpl
    def cellar_register_index_types(self, registry):
        self.record("cellar_register_index_types", registry=registry)
        pinned_version = ConfigKey("pinned_version", to_str)
        registry.add(IndexType("pinned", keys=(pinned_version,), accepts_uploads=False))

    @hookimpl
    def cellar_indexconfig_defaults(self, index_type):
        self.record("cellar_indexconfig_defaults", index_type=index_type)
        return {"recorder_notify": False} if index_type == "stage" else None

    # --- mirrors ------------------------------------------------------------------------

    @hookimpl
    def cellar_get_upstream(self, indexname, ixconfig, settings):
        self.record("cellar_get_upstream", indexname=indexname, ixconfig=ixconfig)
        return None  # the built-in client, with the credentials below

    @hookimpl
    def cellar_get_mirror_auth(self, indexname, url):
        self.record("cellar_get_mirror_auth", indexname=indexname, url=url)
        return ("recorder", PLUGIN_SECRET)

    # --- authentication -----------------------------------------------------------------

    @hookimpl
    def cellar_get_credentials(self, request):
        name = request.headers.get("X-Recorder-User")
        self.record("cellar_get_credentials", path=request.path, name=name)
        return Credentials(name, PLUGIN_SECRET) if name else None

    @hookimpl
    def cellar_get_identity(self, request, credentials):
        self.record("cellar_get_identity", path=request.path, credentials=credentials)
        if credentials is not None and credentials.secret == PLUGIN_SECRET:
            return Identity(credentials.username, ("recorders",))
        return None

    @hookimpl
    def cellar_auth_user(self, username, password, userconfig):
        self.record("cellar_auth_user", username=username, userconfig=userconfig)
        if username != "outsider":
            return None
        ok = password == "outsider-pw"
        return {"status": "ok", "groups": ["outside"]} if ok else {"status": "reject"}

    # --- tox results --------------------------------------------------------------------

    @hookimpl
    def cellar_on_toxresult_store(self, request, toxresult, relpath):
        who = request.authenticated_userid
        self.record("cellar_on_toxresult_store", host=toxresult["host"], relpath=relpath, who=who)
        return None  # no objection: the result is stored

    # --- events -------------------------------------------------------------------------

    @hookimpl
    def cellar_on_commit(self, serial, changes):
        self.record("cellar_on_commit", serial=serial, keys=[c.key for c in changes])

    @hookimpl
    def cellar_on_user_created(self, username, serial):
        self.record("cellar_on_user_created", username=username, serial=serial)

    @hookimpl
    def cellar_on_user_deleted(self, username, serial):
        self.record("cellar_on_user_deleted", username=username, serial=serial)

    @hookimpl
    def cellar_on_index_created(self, indexname, ixconfig, serial):
        self.record(
            "cellar_on_index_created", indexname=indexname, ixconfig=ixconfig, serial=serial
        )

    @hookimpl
    def cellar_on_index_modified(self, indexname, ixconfig, serial):
        self.record(
            "cellar_on_index_modified", indexname=indexname, ixconfig=ixconfig, serial=serial
        )

    @hookimpl
    def cellar_on_index_deleted(self, indexname, serial):
        self.record("cellar_on_index_deleted", indexname=indexname, serial=serial)

    # --- replication --------------------------------------------------------------------

    @hookimpl
    def cellar_on_replicated_file(self, relpath, sha256, size, serial):
        self.record(
            "cellar_on_replicated_file", relpath=relpath, sha256=sha256, size=size, serial=serial
        )
        if HOOK_FAILS.replace("-", "_") in relpath:
            raise RuntimeError("the recorder refuses this file")

    # --- search -------------------------------------------------------------------------

    @hookimpl
    def cellar_get_search_backend(self, registry):
        self.record("cellar_get_search_backend", registry=registry)
        return None  # the built-in engine answers

    # --- status -------------------------------------------------------------------------

    @hookimpl
    def cellar_metrics(self, registry):
        self.record("cellar_metrics", registry=registry)
        return [("recorder_hooks_seen", "gauge", float(len(self.names())))]

    @hookimpl
    def cellar_status_info(self, registry):
        self.record("cellar_status_info", registry=registry)
        return [{"status": "warn", "msg": "the recorder is listening"}]


def hello_view(request):
    settings = request.registry.cellar_settings
    serial = request.registry.getUtility(IStorage).last_serial()
    return {"greeting": settings.plugin("recorder_greeting"), "serial": serial}


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def live(make_cellar, rec):
    return make_cellar(plugins=[rec], extra={"recorder_greeting": "hi"})


def serial_of(reply) -> int:
    return int(reply.headers["X-Devpi-Serial"])


def wait_for_events(live, serial: int) -> None:
    """Poll until the event thread has handled ``serial``; fail after a generous bound."""
    deadline = time.monotonic() + EVENT_WAIT
    while live.running.events.handled < serial:
        if time.monotonic() > deadline:
            pytest.fail(f"event thread stuck at {live.running.events.handled}, wanted {serial}")
        time.sleep(0.02)


def create_user(session, name: str, password: str = "secret") -> int:
    reply = session.put(f"/{name}", json={"password": password})
    assert reply.status_code == 201, reply.text
    return serial_of(reply)


def run_command_line(rec: Recorder):
    """Parse server options and a plugin subcommand the way ``cellar`` does."""
    pm = make_plugin_manager(extra=[rec], entry_points=False)
    parser = argparse.ArgumentParser()
    options = add_server_options(parser, pm)
    cli_parser, cli_options = build_parser(pm)
    return pm, parser, options, cli_parser, cli_options


def index_lifecycle(live) -> int:
    """Create a user and an index, modify it, delete the index and the user."""
    with live.session() as api:
        create_user(api, "alice")
        api.login("alice", "secret")
        reply = api.put("/alice/dev", json={"recorder_notify": "yes"})
        assert reply.status_code == 200, reply.text
        reply = api.patch("/alice/dev", json=["title=Dev"])
        assert reply.status_code == 200, reply.text
        assert api.delete("/alice/dev").status_code == 201
        reply = api.delete("/alice")
        assert reply.status_code == 200, reply.text
        return serial_of(reply)


# --- the tests ----------------------------------------------------------------------------


def test_recorder_implements_every_hook():
    implemented = {name for name in vars(Recorder) if name.startswith("cellar_")}
    assert implemented == set(HOOKS), "give Recorder a method for each new hook"
    pm = make_plugin_manager(extra=[Recorder()], entry_points=False)
    assert set(HOOKS) == {name for name in vars(pm.hook) if name.startswith("cellar_")}


def test_plugin_option_follows_the_precedence(rec):
    _pm, parser, options, _cli, _opts = run_command_line(rec)
    assert rec.calls("cellar_add_options")
    assert "--recorder-greeting" in parser.format_help()
    default = resolve_settings(options, parser.parse_args([]), environ={})
    assert default.plugin("recorder_greeting") == "hello"
    env = {"CELLAR_RECORDER_GREETING": "from env"}
    from_env = resolve_settings(options, parser.parse_args([]), environ=env)
    assert from_env.plugin("recorder_greeting") == "from env"
    args = parser.parse_args(["--recorder-greeting", "from cli"])
    assert resolve_settings(options, args, environ=env).plugin("recorder_greeting") == "from cli"


def test_plugin_subcommand_parses_and_runs(rec):
    pm, _parser, _options, cli_parser, cli_options = run_command_line(rec)
    (call,) = rec.calls("cellar_register_commands")
    assert isinstance(call["subparsers"], argparse._SubParsersAction)
    args = cli_parser.parse_args(["record", "--times", "3"])
    args.pm = pm
    assert args.func(args, cli_options) == 7
    (ran,) = rec.calls("record command")
    assert ran["times"] == 3
    assert ran["pm"] is pm
    assert {"serve", "init"} <= set(ran["options"])


def test_lifecycle_hooks_run_in_order(make_cellar, rec):
    live = make_cellar(plugins=[rec])
    (configured,) = rec.calls("cellar_configure")
    assert configured["settings"].serverdir == live.serverdir
    (initialised,) = rec.calls("cellar_init_serverdir")
    assert initialised["root"] is not None, "root exists before the hook runs"
    assert initialised["serverdir"] == live.serverdir
    (started,) = rec.calls("cellar_startup")
    assert started["registry"] is live.running.registry
    with live.session() as api:
        assert api.get("/recorded").status_code == 200, "the record added at init is there"
    assert rec.calls("cellar_shutdown") == []
    live.stop()
    (stopped,) = rec.calls("cellar_shutdown")
    assert stopped["registry"] is live.running.registry
    lifecycle = ["cellar_configure", "cellar_init_serverdir", "cellar_startup", "cellar_shutdown"]
    assert rec.first_call_order(*lifecycle) == lifecycle


def test_restart_skips_init_and_delivers_no_event_twice(make_cellar, rec):
    first = make_cellar(plugins=[rec])
    wait_for_events(first, first.storage.last_serial())
    first.stop()
    again = Recorder()
    second = make_cellar(plugins=[again], serverdir=first.serverdir)
    with second.session() as api:
        serial = create_user(api, "bob")
    wait_for_events(second, serial)
    assert again.calls("cellar_init_serverdir") == []
    assert [call["serial"] for call in again.calls("cellar_on_commit")] == [serial]


def test_plugin_route_and_view_answer(live, rec):
    (call,) = rec.calls("cellar_pyramid_configure")
    assert call["config"].registry is live.running.registry
    reply = live.session().get("/+hello")
    assert reply.status_code == 200
    assert reply.json() == {"greeting": "hi", "serial": live.storage.last_serial()}


def test_plugin_feature_is_announced(live, rec):
    features = live.session().get("/+api").json()["result"]["features"]
    assert "recorder" in features
    assert features == sorted(features)
    assert rec.calls("cellar_get_features")


def test_plugin_storage_backend_is_selectable(make_cellar, rec):
    live = make_cellar(plugins=[rec], storage="recorded:label=one")
    assert "recorded" in rec.calls("cellar_register_storage")[0]["registry"].names()
    opened = rec.calls("recorded storage opened")
    assert opened, "the recorded backend was not used"
    assert {call["options"]["label"] for call in opened} == {"one"}
    assert {call["basedir"] for call in opened} == {live.serverdir}
    with live.session() as api:
        assert create_user(api, "carol") == live.storage.last_serial()


def test_plugin_index_type_can_be_created(live, rec):
    assert rec.calls("cellar_register_index_types")
    with live.session() as api:
        create_user(api, "dora")
        api.login("dora", "secret")
        reply = api.put("/dora/pins", json={"type": "pinned", "pinned_version": "1.0"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"] == {
            "type": "pinned",
            "volatile": True,
            "pinned_version": "1.0",
        }
        assert "pypisubmit" not in api.get("/dora/pins/+api").json()["result"]


def test_plugin_indexconfig_key_is_coerced(live, rec):
    asked = {call["index_type"] for call in rec.calls("cellar_indexconfig_defaults")}
    assert {"stage", "mirror", "pinned"} <= asked
    with live.session() as api:
        create_user(api, "emil")
        api.login("emil", "secret")
        assert api.put("/emil/plain", json={}).json()["result"]["recorder_notify"] is False
        reply = api.put("/emil/loud", json={"recorder_notify": "yes"})
        assert reply.json()["result"]["recorder_notify"] is True
        assert api.put("/emil/bad", json={"recorder_notify": "maybe"}).status_code == 400


def test_plugin_identity_is_used_for_permissions(live, rec):
    with live.session() as api:
        create_user(api, "fred")
        api.headers["X-Recorder-User"] = "fred"
        status = api.get("/+api").json()["result"]["authstatus"]
        assert status == ["ok", "fred", ["recorders"]]
        assert api.put("/fred/dev", json={}).status_code == 200
    credentials = [c["credentials"] for c in rec.calls("cellar_get_identity")]
    assert Credentials("fred", PLUGIN_SECRET) in credentials
    assert any(call["name"] == "fred" for call in rec.calls("cellar_get_credentials"))


def test_plugin_password_check_logs_in(live, rec):
    with live.session() as api:
        assert api.post("/+login", json={"user": "outsider", "password": "no"}).status_code == 401
        api.login("outsider", "outsider-pw")
        assert api.get("/+api").json()["result"]["authstatus"] == ["ok", "outsider", ["outside"]]
    checked = rec.calls("cellar_auth_user")
    assert {"username": "outsider", "userconfig": None} in checked


def test_root_is_never_asked_of_plugins(live, rec):
    with live.session() as api:
        api.login("root", "")
    assert all(call["username"] != "root" for call in rec.calls("cellar_auth_user"))


def test_events_follow_commits(live, rec):
    last = index_lifecycle(live)
    wait_for_events(live, last)
    serials = [call["serial"] for call in rec.calls("cellar_on_commit")]
    assert serials == list(range(last + 1))
    assert "user/root" in rec.calls("cellar_on_commit")[0]["keys"]
    created = [call["username"] for call in rec.calls("cellar_on_user_created")]
    assert created == ["root", "recorded", "alice"]
    (index,) = [c for c in rec.calls("cellar_on_index_created") if c["indexname"] == "alice/dev"]
    assert index["ixconfig"]["recorder_notify"] is True
    (modified,) = rec.calls("cellar_on_index_modified")
    assert modified["ixconfig"]["title"] == "Dev"
    assert modified["serial"] == index["serial"] + 1
    assert [c["indexname"] for c in rec.calls("cellar_on_index_deleted")] == ["alice/dev"]
    assert rec.calls("cellar_on_user_deleted") == [{"username": "alice", "serial": last}]


def test_metrics_and_messages_appear_in_status(live, rec):
    result = live.session().get("/+status").json()["result"]
    assert ["recorder_hooks_seen", "gauge"] in [metric[:2] for metric in result["metrics"]]
    assert {"status": "warn", "msg": "the recorder is listening"} in result["messages"]
    assert rec.calls("cellar_metrics")[0]["registry"] is live.running.registry
    assert rec.calls("cellar_status_info")[0]["registry"] is live.running.registry


def test_search_backend_is_asked_after_startup(live, rec):
    (asked,) = rec.calls("cellar_get_search_backend")
    assert asked["registry"] is live.running.registry
    assert rec.first_call_order("cellar_startup", "cellar_get_search_backend") == [
        "cellar_startup",
        "cellar_get_search_backend",
    ]
    assert live.running.registry.cellar_search is not None, "the built-in engine answered"
    reply = live.session().get("/+search", params={"query": "nothing"})
    assert reply.status_code == 200, reply.text


def mirror_page(live, upstream) -> requests.Response:
    """Point root/pypi at ``upstream`` and ask it for a project page."""
    with live.session() as api:
        api.login("root", "")
        reply = api.patch("/root/pypi", json=[f"mirror_url={upstream.index_url}"])
        assert reply.status_code == 200, reply.text
        return api.get("/root/pypi/+simple/requests/")


TOXRESULT = {"host": "recorder-ci", "platform": "linux", "testenvs": {"py": {}}}


def post_toxresult(live) -> tuple[str, requests.Response]:
    """Upload a wheel to a new index of a new user and post a tox result for it anonymously."""
    with live.session() as api:
        create_user(api, "tess")
        api.login("tess", "secret")
        assert api.put("/tess/dev", json={}).status_code == 200
    dist = wheel("tested", "1.0")
    upload(f"{live.url}/tess/dev/", dist, ("tess", "secret")).raise_for_status()
    relpath = f"tess/dev/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}/{dist.filename}"
    with live.session() as api:
        return relpath, api.post(f"/{relpath}", json=TOXRESULT)


def start_recorded_replica(make_cellar, rec: Recorder, tmp_path):
    """A primary and a replica of it that has the recorder."""
    secretfile = make_secret(tmp_path / "replication")
    primary = start_primary(make_cellar, secretfile)
    replica = make_cellar(
        plugins=[*REPLICA_PLUGINS, rec],
        role="replica",
        primary_url=primary.url,
        secretfile=secretfile,
        extra=dict(FAST),
    )
    return primary, replica


def upload_to(live, project: str, user: str = "rita"):
    """Upload a wheel of ``project`` to ``user/dev`` (made on first use); return the
    wheel, its relpath and the serial of the upload."""
    with live.session() as api:
        if api.get(f"/{user}").status_code == 404:
            create_user(api, user)
            api.login(user, "secret")
            assert api.put(f"/{user}/dev", json={}).status_code == 200
    dist = wheel(project, "1.0")
    reply = upload(f"{live.url}/{user}/dev/", dist, (user, "secret"))
    assert reply.status_code == 200, reply.text
    relpath = f"{user}/dev/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}/{dist.filename}"
    return dist, relpath, serial_of(reply)


def replicated_call(rec: Recorder, relpath: str) -> dict:
    def found():
        calls = rec.calls("cellar_on_replicated_file")
        return next((call for call in calls if call["relpath"] == relpath), None)

    return wait_for(found, what=f"cellar_on_replicated_file for {relpath}")


def test_a_replica_reports_each_replicated_file(make_cellar, rec, tmp_path):
    primary, replica = start_recorded_replica(make_cellar, rec, tmp_path)
    dist, relpath, serial = upload_to(primary, "replicated")
    call = replicated_call(rec, relpath)
    assert call == {
        "relpath": relpath,
        "sha256": dist.sha256,
        "size": len(dist.content),
        "serial": serial,
    }
    pending = {ref.path for ref in replica.storage.pending_files()}
    assert relpath not in pending, "the hook ran before the content was readable"
    with replica.storage.open_file(relpath) as fp:
        assert fp.read() == dist.content
    metadata = replicated_call(rec, relpath + ".metadata")
    assert metadata["serial"] == serial
    assert metadata["sha256"] != dist.sha256


def test_a_failing_replicated_file_hook_never_stops_replication(make_cellar, rec, tmp_path, caplog):
    primary, replica = start_recorded_replica(make_cellar, rec, tmp_path)
    _dist, failing, _serial = upload_to(primary, HOOK_FAILS)
    _dist, relpath, _serial = upload_to(primary, "after-the-failure")
    replicated_call(rec, failing)
    replicated_call(rec, relpath)
    assert "cellar_on_replicated_file hook failed for " + failing in caplog.text
    status = replica.session().get("/+status", headers={"Accept": "application/json"})
    metrics = {name: value for name, _kind, value in status.json()["result"]["metrics"]}
    assert metrics["cellar_replica_file_hook_errors"] >= 1
    assert not replica.storage.pending_files()


def tour(make_cellar, make_upstream, rec: Recorder, tmp_path) -> None:
    """Every action of the tests above, on one recorder."""
    run_command_line(rec)
    primary, _replica = start_recorded_replica(make_cellar, rec, tmp_path)
    replicated_call(rec, upload_to(primary, "replicated")[1])
    live = make_cellar(plugins=[rec], storage="recorded", extra={"recorder_greeting": "hi"})
    mirror_page(live, make_upstream(auth=("recorder", PLUGIN_SECRET)))
    post_toxresult(live)
    with live.session() as api:
        api.get("/+hello")
        api.get("/+api", headers={"X-Recorder-User": "visitor"})
        api.post("/+login", json={"user": "outsider", "password": "outsider-pw"})
        api.get("/+status")
        api.get("/+search", params={"query": "tested"})
    wait_for_events(live, index_lifecycle(live))
    live.stop()


def test_mirror_upstream_and_credentials_come_from_plugins(live, rec, make_upstream):
    upstream = make_upstream(auth=("recorder", PLUGIN_SECRET))
    reply = mirror_page(live, upstream)
    assert reply.status_code == 200, reply.text
    assert "requests-2.32.3-py3-none-any.whl" in reply.text
    [asked] = rec.calls("cellar_get_upstream")
    assert asked["indexname"] == "root/pypi"
    assert asked["ixconfig"]["mirror_url"] == upstream.index_url
    [auth] = rec.calls("cellar_get_mirror_auth")
    assert auth == {"indexname": "root/pypi", "url": upstream.index_url}
    assert upstream.authorized(), "the plugin's credentials reached the upstream"


def test_toxresult_store_is_asked_before_storing(live, rec):
    relpath, reply = post_toxresult(live)
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"].startswith(f"{relpath}.toxresult-")
    calls = rec.calls("cellar_on_toxresult_store")
    assert calls == [{"host": "recorder-ci", "relpath": relpath, "who": None}]


def test_the_tour_calls_every_hook(make_cellar, make_upstream, rec, tmp_path):
    tour(make_cellar, make_upstream, rec, tmp_path)
    missing = sorted(set(HOOKS) - rec.names())
    assert not missing, f"no action in tour() calls {missing}; add one and a test for it"
