"""``cellar yank``: mark a release yanked (PEP 592), or undo that."""

from __future__ import annotations

import argparse
from urllib.parse import quote

from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.specs import parse_pin
from cheesecellar_client.state import ClientState


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar yank``."""
    parser = subparsers.add_parser(
        "yank",
        help="mark a release yanked, or undo it",
        description="Mark NAME==VERSION yanked on the current index (PEP 592): pip and uv "
        "skip it unless it is pinned exactly; its files stay downloadable. --undo clears it.",
    )
    parser.add_argument("pkgspec", metavar="NAME==VERSION", help="the release")
    parser.add_argument("--reason", help="why the release is yanked (shown by pip)")
    parser.add_argument("--undo", action="store_true", help="clear the yank")
    parser.add_argument("--index", help="the index of the release (default: the current index)")
    parser.set_defaults(func=run_command(cmd_yank))


def cmd_yank(args: argparse.Namespace, options: object = None) -> int:
    from packaging.utils import canonicalize_name

    client = Client(ClientState.load())
    name, version = parse_pin(args.pkgspec)
    index = client.require_index(args.index)
    if args.reason and args.undo:
        raise ClientError("--reason goes with a yank, not with --undo")
    body: dict = {"yanked": not args.undo}
    if args.reason:
        body["yanked_reason"] = args.reason
    path = f"/{index}/{canonicalize_name(name)}/{quote(version, safe='')}"
    client.request("PATCH", path, json=body)
    if args.undo:
        out(f"{name} {version} on {index} is no longer yanked")
    else:
        reason = f" ({args.reason})" if args.reason else ""
        out(f"yanked {name} {version} on {index}{reason}")
    return 0
