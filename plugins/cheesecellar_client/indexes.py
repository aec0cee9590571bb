"""``cellar index``: create, modify, show, list and delete indexes."""

from __future__ import annotations

import argparse
import dataclasses

from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.http import result_of
from cheesecellar_client.keyvalues import as_dict
from cheesecellar_client.keyvalues import parse_keyvalues
from cheesecellar_client.output import confirm
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.output import show_config
from cheesecellar_client.state import ClientState

#: Keys shown first, in this order; the rest follow sorted.
FIRST_KEYS = ("type", "bases", "volatile", "acl_upload")
DESCRIPTION = """\
Without an option, show the configuration of INDEX (default: the current index), or change
it with key=value (set), key+=value (add to a list) and key-=value (remove from a list).
INDEX is USER/NAME, or NAME of the logged-in user. Common keys: type (stage or mirror, only
at creation), bases (comma list of indexes to inherit from), volatile (False forbids
overwriting and deleting releases), acl_upload, acl_toxresult_upload, mirror_whitelist,
title, description; mirrors: mirror_url, mirror_cache_expiry.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar index``."""
    parser = subparsers.add_parser(
        "index", help="create, modify, show, list and delete indexes", description=DESCRIPTION
    )
    parser.add_argument("indexname", nargs="?", metavar="INDEX", help="USER/NAME or NAME")
    parser.add_argument("keyvalues", nargs="*", metavar="key=value", help="settings to change")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("-c", "--create", action="store_true", help="create an index")
    action.add_argument("-l", "--list", action="store_true", help="list the indexes of a user")
    action.add_argument("--delete", action="store_true", help="delete an index and its files")
    parser.add_argument("-y", dest="yes", action="store_true", help="do not ask to confirm")
    parser.set_defaults(func=run_command(cmd_index))


def cmd_index(args: argparse.Namespace, options: object = None) -> int:
    client = Client(ClientState.load())
    client.require_url()
    if args.list:
        return list_user_indexes(client, args.indexname)
    name, keyvalues = _name_and_settings(args)
    index = client.require_index(name)
    if args.create:
        return create_index(client, index, keyvalues)
    if args.delete:
        return delete_index(client, index, assume_yes=args.yes)
    if keyvalues:
        return modify_index(client, index, keyvalues)
    return show_index(client, index)


def _name_and_settings(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    name, keyvalues = args.indexname, list(args.keyvalues)
    if name and "=" in name:  # "cellar index bases=..." changes the current index
        name, keyvalues = None, [name, *keyvalues]
    if args.create and not name:
        raise ClientError("give the name of the new index: cellar index -c NAME [key=value ...]")
    if args.delete and not name:
        raise ClientError("give the index to delete: cellar index --delete NAME")
    if args.delete and keyvalues:
        raise ClientError("--delete takes no key=value settings")
    return name, keyvalues


def create_index(client: Client, index: str, keyvalues: list[str]) -> int:
    settings = as_dict(parse_keyvalues(keyvalues))
    reply = client.request("PUT", f"/{index}", json=settings)
    show_config(client.url_for(index), _config_of(reply), first=FIRST_KEYS)
    return 0


def modify_index(client: Client, index: str, keyvalues: list[str]) -> int:
    operations = [str(item) for item in parse_keyvalues(keyvalues, operations=True)]
    client.get_json(f"/{index}", params={"no_projects": ""})  # a clear 404 first
    for operation in operations:
        out(f"/{index} {operation}")
    reply = client.request("PATCH", f"/{index}", json=operations)
    show_config(client.url_for(index), _config_of(reply), first=FIRST_KEYS)
    return 0


def show_index(client: Client, index: str) -> int:
    config = client.get_json(f"/{index}", params={"no_projects": ""})
    show_config(client.url_for(index), config, first=FIRST_KEYS)
    return 0


def delete_index(client: Client, index: str, *, assume_yes: bool) -> int:
    url = client.url_for(index)
    client.get_json(f"/{index}", params={"no_projects": ""})
    out(f"About to remove index {index} with all of its releases: {url}")
    if not confirm("Are you sure", assume_yes=assume_yes):
        out("not deleting anything")
        return 1
    client.request("DELETE", f"/{index}")
    out(f"index deleted: {index}")
    if client.state.index == index:
        dataclasses.replace(client.state, index=None).save()
        out("that was the current index; select another with: cellar use USER/INDEX")
    return 0


def list_user_indexes(client: Client, user: str | None) -> int:
    user = (user or client.state.username or "").strip("/")
    if not user:
        raise ClientError("not logged in: give the user, cellar index -l USER")
    config = client.get_json(f"/{user}")
    for name in sorted(config.get("indexes") or {}):
        out(f"{user}/{name}")
    return 0


def _config_of(reply) -> dict:
    config = result_of(reply)
    if not isinstance(config, dict):
        raise ClientError(f"{reply.url}: the reply holds no index configuration")
    config.pop("projects", None)
    return config
