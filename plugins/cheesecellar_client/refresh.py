"""``cellar refresh``: make the server fetch a project's links from its mirrors again."""

from __future__ import annotations

import argparse

from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.http import http_error
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.state import ClientState


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar refresh``."""
    parser = subparsers.add_parser(
        "refresh",
        help="drop cached mirror pages of projects",
        description="For every mirror the index inherits from, forget the cached links of "
        "each NAME and fetch them again from upstream, so that new releases show at once.",
    )
    parser.add_argument("names", nargs="+", metavar="NAME", help="project to refresh")
    parser.add_argument("--index", help="the index to refresh (default: the current index)")
    parser.set_defaults(func=run_command(cmd_refresh))


def cmd_refresh(args: argparse.Namespace, options: object = None) -> int:
    from packaging.utils import canonicalize_name

    client = Client(ClientState.load())
    index = client.require_index(args.index)
    for name in args.names:
        project = canonicalize_name(name)
        # The server answers with a redirect to the simple page, which is fetched as HTML.
        reply = client.request(
            "POST",
            f"/{index}/+simple/{project}/refresh",
            headers={"Accept": "text/html"},
            ok=(200, 404),
        )
        if reply.status_code == 404 and not reply.history:
            raise http_error(reply, logged_in=client.state.logged_in)
        if reply.status_code == 404:
            raise ClientError(f"no project {project!r} on {index}")
        out(f"refreshed {project} on {index}")
    return 0
