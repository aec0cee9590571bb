"""``cellar push``: copy a release with its files to another index of the server."""

from __future__ import annotations

import argparse

from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.http import result_of
from cheesecellar_client.output import error
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.specs import parse_pin
from cheesecellar_client.state import ClientState

#: An action that ended with this status is not a failure (the file was already gone).
GONE = 410


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar push``."""
    parser = subparsers.add_parser(
        "push",
        help="copy a release to another index",
        description="Copy NAME==VERSION with its release files, documentation and tox results "
        "from the current index (or --index) to TARGET, another index on the same server "
        "given as USER/INDEX. You need upload permission on TARGET.",
    )
    parser.add_argument("pkgspec", metavar="NAME==VERSION", help="the release to push")
    parser.add_argument("target", metavar="TARGET", help="USER/INDEX to push to")
    parser.add_argument("--index", help="the index to push from (default: the current index)")
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--no-docs", action="store_true", help="push release files only")
    docs.add_argument("--only-docs", action="store_true", help="push documentation only")
    parser.set_defaults(func=run_command(cmd_push))


def cmd_push(args: argparse.Namespace, options: object = None) -> int:
    client = Client(ClientState.load())
    name, version = parse_pin(args.pkgspec)
    source = client.require_index(args.index)
    target = _target_index(args.target)
    body = {"name": name, "version": version, "targetindex": target}
    if args.no_docs:
        body["no_docs"] = True
    if args.only_docs:
        body["only_docs"] = True
    actions = result_of(client.request("POST", f"/{source}/", json=body))
    return show_actions(actions if isinstance(actions, list) else [])


def _target_index(text: str) -> str:
    if text.startswith("pypi:"):
        raise ClientError("pushing to an external repository is not supported; use twine")
    name = text.strip().strip("/")
    parts = name.split("/")
    if len(parts) != 2 or not all(parts):
        raise ClientError(f"invalid target {text!r}: expected USER/INDEX")
    return name


def show_actions(actions: list) -> int:
    """Print the server's action log; any failed action makes the exit code 1."""
    failed = False
    for action in actions:
        if not isinstance(action, list) or not action:
            continue
        status, words = action[0], " ".join(str(word) for word in action[1:])
        line = f"{status:>6} {words}"
        if isinstance(status, int) and (status >= 400 or status < 0) and status != GONE:
            failed = True
            error(line)
        else:
            out(line)
    return 1 if failed else 0
