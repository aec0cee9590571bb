"""``cellar use``: choose the server and index, show them, list indexes, write pip/uv config."""

from __future__ import annotations

import argparse
import dataclasses

from cheesecellar_client import installercfg
from cheesecellar_client.api import ApiConfig
from cheesecellar_client.api import fetch_api
from cheesecellar_client.api import split_server_url
from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.output import warn
from cheesecellar_client.state import ClientState
from cheesecellar_client.state import state_path

DESCRIPTION = """\
Without arguments, show the server, index and login the other commands use. With a URL
(http://HOST:PORT or http://HOST:PORT/USER/INDEX) select a server, with USER/INDEX (or INDEX
of the logged-in user) select an index on the current server. The choice is remembered in
the client's config directory ($CELLAR_CLIENT_DIR, else $XDG_CONFIG_HOME/cellar).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar use``."""
    parser = subparsers.add_parser(
        "use", help="show or select the server and index", description=DESCRIPTION
    )
    parser.add_argument("target", nargs="?", metavar="URL|INDEX", help="server URL or index")
    parser.add_argument("-l", "--list", action="store_true", help="list the indexes of the server")
    parser.add_argument("-u", "--user", help="with --list: only the indexes of USER")
    parser.add_argument(
        "--set-cfg",
        action="store_true",
        help="point pip (pip.conf: index-url, trusted-host for http) and uv (uv.toml: "
        "default index) at the current index",
    )
    parser.add_argument("--urls", action="store_true", help="show the server's endpoint URLs")
    parser.add_argument("--delete", action="store_true", help="forget the server, index and login")
    parser.set_defaults(func=run_command(cmd_use))


def cmd_use(args: argparse.Namespace, options: object = None) -> int:
    state = ClientState.load()
    if args.delete:
        ClientState().save()
        out(f"forgot server, index and login ({state_path()})")
        return 0
    if args.target:
        state = select(state, args.target)
        state.save()
    client = Client(state)
    if args.list:
        return list_indexes(client, args.user)
    api = check_login(client)
    if args.set_cfg:
        set_cfg(client)
    show_current(client, api, urls=args.urls)
    return 0


def select(state: ClientState, target: str) -> ClientState:
    """The state after ``cellar use TARGET``; nothing is saved when the target is bad."""
    if "://" in target:
        url = split_server_url(target)
        same_server = state.url is not None and (url + "/").startswith(state.url + "/")
        api = fetch_api(Client(state), url, auth=same_server)
        new = dataclasses.replace(state, url=api.root, index=api.index)
        if api.root != state.url:
            new = dataclasses.replace(new, username=None, token=None)
        return new
    client = Client(state)
    index = client.require_index(target)
    try:
        fetch_api(client, client.url_for(index))
    except ClientError as exc:
        if exc.status == 404:
            raise ClientError(
                f"index {index} does not exist on {client.require_url()}; "
                "cellar use -l lists the indexes"
            ) from exc
        raise
    return dataclasses.replace(state, index=index)


def check_login(client: Client) -> ApiConfig | None:
    """Read ``/+api``; a stored login the server no longer accepts is dropped."""
    state = client.state
    if not state.url:
        return None
    try:
        api = fetch_api(client, client.url_for(state.index or "/"))
    except ClientError as exc:
        if exc.status != 404:
            raise
        warn(f"the current index {state.index} does not exist (any more) on {state.url}")
        api = fetch_api(client, state.url)
    if state.logged_in and (api.authstatus != "ok" or api.authuser != state.username):
        warn(f"the login of {state.username!r} has expired; log in again with: cellar login")
        client.state = dataclasses.replace(state, username=None, token=None)
        client.state.save()
    return api


def show_current(client: Client, api: ApiConfig | None, *, urls: bool = False) -> None:
    """Print the server, index, login and installer config, as ``cellar use`` does."""
    state = client.state
    if not state.url:
        out("no server selected: run 'cellar use URL'")
        return
    login = f"logged in as {state.username}" if state.logged_in else "not logged in"
    if state.index:
        out(f"current index: {client.url_for(state.index)} ({login})")
    else:
        out(f"using server: {state.url} ({login})")
        out("no current index: run 'cellar use -l' to list the indexes")
    if api is not None:
        out(f"supported features: {', '.join(api.features)}")
        if urls:
            for key in sorted(api.urls):
                out(f"{key}: {api.urls[key]}")
    show_installer_config()


def show_installer_config() -> None:
    """One line each for pip's and uv's config file: the index they use."""
    for tool, path, reader in (
        ("pip", installercfg.pip_config_path(), installercfg.pip_index),
        ("uv", installercfg.uv_config_path(), installercfg.uv_index),
    ):
        ignored = installercfg.ignored_by(tool)
        if ignored:
            warn(ignored)
        if not path.exists():
            out(f"{path}: no config file exists")
            continue
        try:
            index = reader(path)
        except ClientError as exc:
            out(f"{path}: {exc.message}")
            continue
        out(f"{path}: {index or 'no index configured'}")


def set_cfg(client: Client) -> None:
    """Write pip's and uv's config for the current index."""
    if not client.state.index:
        raise ClientError("--set-cfg needs an index; run: cellar use USER/INDEX --set-cfg")
    simple = client.simple_url()
    pip_path, uv_path = installercfg.write_configs(simple)
    host = installercfg.trusted_host(simple)
    extra = f" and trusted-host {host}" if host else ""
    out(f"{pip_path}: set index-url {simple}{extra}")
    out(f"{uv_path}: set default index {simple}")


def list_indexes(client: Client, user: str | None) -> int:
    """Print ``user/index  bases=...  volatile=...`` for each index (of ``user``)."""
    users = {user: client.get_json(f"/{user}")} if user else client.get_json("/")
    rows = []
    for name in sorted(users):
        for index, config in sorted((users[name].get("indexes") or {}).items()):
            rows.append((f"{name}/{index}", *_index_summary(config)))
    if not rows:
        out("no indexes")
        return 0
    name_width = max(len(row[0]) for row in rows)
    first_width = max(len(row[1]) for row in rows)
    for name, first, second in rows:
        out(f"{name:<{name_width}}  {first:<{first_width}}  {second}")
    return 0


def _index_summary(config: dict) -> tuple[str, str]:
    if config.get("type") == "mirror":
        return "type=mirror", f"mirror_url={config.get('mirror_url', '')}"
    return f"bases={','.join(config.get('bases') or [])}", f"volatile={config.get('volatile')}"
