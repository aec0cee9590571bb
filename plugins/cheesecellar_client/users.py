"""``cellar user``: create, modify, show, list and delete users."""

from __future__ import annotations

import argparse
import dataclasses

from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.keyvalues import as_dict
from cheesecellar_client.keyvalues import parse_keyvalues
from cheesecellar_client.output import ask_secret
from cheesecellar_client.output import confirm
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.output import show_config
from cheesecellar_client.state import ClientState

#: Keys a user record has; ``pwhash`` sets an argon2 hash instead of a password.
USER_KEYS = ("password", "pwhash", "email", "title", "description", "custom_data")
#: Keys never shown when printing a user.
HIDDEN_KEYS = frozenset({"username", "indexes", "password", "pwhash"})


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar user``."""
    parser = subparsers.add_parser(
        "user",
        help="create, modify, show, list and delete users",
        description="Without an option, show USER (or the logged-in user). Keys: "
        + ", ".join(USER_KEYS)
        + ". Without password=..., -c asks for the password.",
    )
    parser.add_argument("username", nargs="?", help="the user")
    parser.add_argument("keyvalues", nargs="*", metavar="key=value", help="settings of the user")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("-c", "--create", action="store_true", help="create a user")
    action.add_argument("-m", "--modify", action="store_true", help="modify a user")
    action.add_argument("-l", "--list", action="store_true", help="list the user names")
    action.add_argument("--delete", action="store_true", help="delete a user and its indexes")
    parser.add_argument("-y", dest="yes", action="store_true", help="do not ask to confirm")
    parser.set_defaults(func=run_command(cmd_user))


def cmd_user(args: argparse.Namespace, options: object = None) -> int:
    client = Client(ClientState.load())
    client.require_url()
    if args.list:
        return list_users(client)
    username, keyvalues = name_and_settings(args, client.state)
    if keyvalues and not (args.create or args.modify):
        raise ClientError("key=value settings need -c (create) or -m (modify)")
    if args.create:
        return create_user(client, username, keyvalues)
    if args.modify:
        return modify_user(client, username, keyvalues)
    if args.delete:
        return delete_user(client, username, assume_yes=args.yes)
    return show_user(client, username)


def name_and_settings(args: argparse.Namespace, state: ClientState) -> tuple[str, list[str]]:
    """The user (default: the logged-in one) and the ``key=value`` arguments."""
    name, keyvalues = args.username, list(args.keyvalues)
    if name and "=" in name:  # "cellar user -m password=..." changes the logged-in user
        name, keyvalues = None, [name, *keyvalues]
    if args.delete and not name:
        raise ClientError("give the user to delete: cellar user --delete NAME")
    name = name or state.username
    if not name:
        raise ClientError("give a user name, or log in first")
    return name, keyvalues


def user_settings(keyvalues: list[str]) -> dict[str, str]:
    """``key=value`` arguments of a user; unknown keys are refused before any request."""
    settings = as_dict(parse_keyvalues(keyvalues))
    unknown = sorted(set(settings) - set(USER_KEYS))
    if unknown:
        raise ClientError(f"unknown user setting {unknown[0]!r}; known: {', '.join(USER_KEYS)}")
    return settings


def create_user(client: Client, username: str, keyvalues: list[str]) -> int:
    settings = user_settings(keyvalues)
    if "password" not in settings and "pwhash" not in settings:
        settings["password"] = ask_new_password(username)
    client.request("PUT", f"/{username}", json=settings)
    out(f"user created: {username}")
    return 0


def ask_new_password(username: str) -> str:
    """Ask twice for a new password on the terminal."""
    instead = "password=... on the command line"
    first = ask_secret(f"new password for user {username}: ", instead=instead)
    if ask_secret("repeat the password: ", instead=instead) != first:
        raise ClientError("the passwords do not match; nothing changed")
    return first


def modify_user(client: Client, username: str, keyvalues: list[str]) -> int:
    settings = user_settings(keyvalues)
    if not settings:
        raise ClientError("nothing to change: give key=value settings")
    client.get_json(f"/{username}")  # a clear 404 for an unknown user
    for key, value in settings.items():
        shown = "********" if key in ("password", "pwhash") else value
        out(f"/{username} changing {key}: {shown}")
    reply = client.request("PATCH", f"/{username}", json=settings).json()
    _keep_login_after_password_change(client, username, reply)
    out(f"user modified: {username}")
    return 0


def _keep_login_after_password_change(client: Client, username: str, reply: dict) -> None:
    # The server answers a password change with a fresh token for that user.
    result = reply.get("result") if isinstance(reply, dict) else None
    token = result.get("password") if isinstance(result, dict) else None
    if token and client.state.username == username:
        dataclasses.replace(client.state, token=token).save()


def delete_user(client: Client, username: str, *, assume_yes: bool) -> int:
    url = client.url_for(f"/{username}")
    client.get_json(f"/{username}")
    out(f"About to remove user {username} and all of its indexes: {url}")
    if not confirm("Are you sure", assume_yes=assume_yes):
        out("not deleting anything")
        return 1
    client.request("DELETE", f"/{username}")
    out(f"user deleted: {username}")
    if client.state.username == username:
        dataclasses.replace(client.state, username=None, token=None).save()
        out("login information deleted")
    return 0


def show_user(client: Client, username: str) -> int:
    config = client.get_json(f"/{username}")
    shown = {key: value for key, value in config.items() if key not in HIDDEN_KEYS}
    show_config(client.url_for(f"/{username}"), shown)
    return 0


def list_users(client: Client) -> int:
    for name in sorted(client.get_json("/")):
        out(name)
    return 0
