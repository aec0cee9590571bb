"""``cellar getjson``: print the JSON the server holds for a path."""

from __future__ import annotations

import argparse
import json

from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.state import ClientState


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar getjson``."""
    parser = subparsers.add_parser(
        "getjson",
        help="print the JSON of a server path",
        description="Print the JSON reply for PATH: /USER, /USER/INDEX, /USER/INDEX/NAME, "
        "/USER/INDEX/NAME/VERSION or a full URL. A PATH without a leading slash is taken "
        "relative to the current index (hello-world -> /USER/INDEX/hello-world).",
    )
    parser.add_argument("path", metavar="PATH|URL", help="e.g. /alice or /alice/dev/hello-world")
    parser.set_defaults(func=run_command(cmd_getjson))


def cmd_getjson(args: argparse.Namespace, options: object = None) -> int:
    client = Client(ClientState.load())
    path = args.path
    if not path.startswith(("/", "http://", "https://")):
        path = client.index_url() + path
    response = client.request("GET", path)
    try:
        body = response.json()
    except ValueError as exc:
        raise ClientError(f"{response.url}: the reply is not JSON") from exc
    out(json.dumps(body, indent=4, sort_keys=True))
    return 0
