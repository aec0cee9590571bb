"""``cellar login`` and ``cellar logoff``: get a login token from the server, or forget it."""

from __future__ import annotations

import argparse
import dataclasses

from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.http import result_of
from cheesecellar_client.http import server_message
from cheesecellar_client.output import ask_secret
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.state import ClientState


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar login``, ``cellar logoff`` and its alias ``logout``."""
    login = subparsers.add_parser(
        "login",
        help="log in to the current server",
        description="Log in to the current server; the token is kept in the client's config "
        "directory (mode 0600) and sent with later commands. The password is asked for "
        "when --password is not given.",
    )
    login.add_argument("username", nargs="?", help="user to log in as (default: the last one)")
    login.add_argument("--password", help="the password (asked for when not given)")
    login.set_defaults(func=run_command(cmd_login))
    for name in ("logoff", "logout"):
        logoff = subparsers.add_parser(
            name, help="forget the login" if name == "logoff" else "same as logoff"
        )
        logoff.set_defaults(func=run_command(cmd_logoff))


def cmd_login(args: argparse.Namespace, options: object = None) -> int:
    state = ClientState.load()
    client = Client(state)
    root = client.require_url()
    username = args.username or state.username
    if not username:
        raise ClientError("give the user to log in as: cellar login USER")
    password = args.password
    if password is None:
        password = ask_secret(f"password for user {username} at {root}: ", instead="--password")
    reply = client.request(
        "POST", "/+login", json={"user": username, "password": password}, ok=(200, 401), auth=False
    )
    if reply.status_code == 401:
        raise ClientError(f"login failed: {server_message(reply)}")
    result = result_of(reply)
    token = result.get("password") if isinstance(result, dict) else None
    if not isinstance(token, str) or not token:
        raise ClientError(f"{root}: the login reply carries no token")
    dataclasses.replace(state, username=username, token=token).save()
    hours = float(result.get("expiration") or 0) / 3600
    out(f"logged in {username!r} at {root!r}, credentials valid for {hours:.2f} hours")
    return 0


def cmd_logoff(args: argparse.Namespace, options: object = None) -> int:
    state = ClientState.load()
    if not state.logged_in:
        out("not logged in")
        return 0
    dataclasses.replace(state, username=None, token=None).save()
    out(f"login information of {state.username!r} deleted")
    return 0
