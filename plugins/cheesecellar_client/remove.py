"""``cellar remove``: delete a project, some of its versions, or one file from an index."""

from __future__ import annotations

import argparse
from urllib.parse import quote

from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.listing import sorted_versions
from cheesecellar_client.output import confirm
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.specs import ReleaseSpec
from cheesecellar_client.specs import parse_spec
from cheesecellar_client.state import ClientState


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar remove``."""
    parser = subparsers.add_parser(
        "remove",
        help="delete a project, versions of it, or a release file",
        description="Delete a whole project (NAME), some versions (NAME==1.0, NAME<2), or one "
        "file given by its URL, from the current index. Only releases stored on the index "
        "itself are deleted, never those of its bases.",
    )
    parser.add_argument("spec_or_url", metavar="SPEC|URL", help="NAME, NAME==VERSION or a URL")
    parser.add_argument("--index", help="the index to delete from (default: the current index)")
    parser.add_argument(
        "-f", "--force", action="store_true", help="also delete from a non-volatile index"
    )
    parser.add_argument("-y", dest="yes", action="store_true", help="do not ask to confirm")
    parser.set_defaults(func=run_command(cmd_remove))


def cmd_remove(args: argparse.Namespace, options: object = None) -> int:
    client = Client(ClientState.load())
    params = {"force": ""} if args.force else None
    target = args.spec_or_url
    if target.startswith(("http://", "https://")):
        return remove_file(client, target, params, assume_yes=args.yes)
    index = client.require_index(args.index)
    spec = parse_spec(target)
    doomed = versions_to_delete(client, index, spec)
    if not doomed:
        raise ClientError(f"no release files matching {target!r} found on {index}")
    show_doomed(index, doomed)
    if not confirm("Are you sure", assume_yes=args.yes):
        out("not deleting anything")
        return 1
    if not spec.specifier:
        client.request("DELETE", f"/{index}/{spec.project}/", params=params)
        out(f"deleted project {spec.project} from {index}")
        return 0
    for version, _ in doomed:
        out(f"deleting release {version} of {spec.project}")
        path = f"/{index}/{spec.project}/{quote(version, safe='')}"
        client.request("DELETE", path, params=params)
    return 0


def versions_to_delete(
    client: Client, index: str, spec: ReleaseSpec
) -> list[tuple[str, list[str]]]:
    """Matching versions (oldest first) with the URLs of their files on ``index`` itself."""
    versions = client.get_json(f"/{index}/{spec.project}/", params={"ignore_bases": ""})
    own = client.index_url(index)
    doomed = []
    for version in reversed(sorted_versions(versions)):
        if not spec.matches(version):
            continue
        links = versions[version].get("+links") or []
        files = sorted(
            link["href"]
            for link in links
            if link.get("rel") in ("releasefile", "doczip") and link["href"].startswith(own)
        )
        if files:
            doomed.append((version, files))
    return doomed


def show_doomed(index: str, doomed: list[tuple[str, list[str]]]) -> None:
    out(f"About to remove the following releases and files from {index}:")
    for version, files in doomed:
        out(f"version: {version}")
        for href in files:
            out(f"  - {href}")


def remove_file(client: Client, url: str, params, *, assume_yes: bool) -> int:
    out("About to remove the following file:")
    out(url)
    if not confirm("Are you sure", assume_yes=assume_yes):
        out("not deleting anything")
        return 1
    client.request("DELETE", url, params=params)
    out(f"deleted {url}")
    return 0
