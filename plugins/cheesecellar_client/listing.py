"""``cellar list``: the projects of an index, the files of a project's versions, tox results."""

from __future__ import annotations

import argparse

from cheesecellar_client import toxshow
from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.output import warn
from cheesecellar_client.specs import ReleaseSpec
from cheesecellar_client.specs import parse_spec
from cheesecellar_client.state import ClientState

#: Versions shown per project without --all.
NEWEST_SHOWN = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar list``."""
    parser = subparsers.add_parser(
        "list",
        help="list projects, or the files of a project's versions",
        description="Without SPEC, list the projects of the index. With SPEC (NAME, "
        "NAME==VERSION, NAME>=1.0, ...), list the release files of the newest matching "
        f"versions (the {NEWEST_SHOWN} newest, or all with --all), with -t their tox results.",
    )
    parser.add_argument("spec", nargs="?", metavar="SPEC", help="project or release")
    parser.add_argument("--index", help="the index to look at (default: the current index)")
    parser.add_argument(
        "--all", action="store_true", help="show all versions instead of the newest ones"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="without SPEC: show NAME==VERSION lines"
    )
    parser.add_argument(
        "-t", "--toxresults", action="store_true", help="show the tox results of each file"
    )
    parser.add_argument(
        "-f", "--failures", action="store_true", help="show the output of failed commands (-t)"
    )
    parser.add_argument(
        "--ignore-bases", action="store_true", help="leave out releases of inherited indexes"
    )
    parser.set_defaults(func=run_command(cmd_list))


def cmd_list(args: argparse.Namespace, options: object = None) -> int:
    client = Client(ClientState.load())
    index = client.require_index(args.index)
    if not args.spec:
        return list_projects(client, index, args)
    spec = parse_spec(args.spec)
    params = {"ignore_bases": ""} if args.ignore_bases else None
    versions = client.get_json(f"/{index}/{spec.project}/", params=params)
    return list_versions(client, index, spec, versions, args)


def list_projects(client: Client, index: str, args: argparse.Namespace) -> int:
    config = client.get_json(f"/{index}")
    for project in sorted(config.get("projects") or ()):
        if not args.verbose:
            out(project)
            continue
        versions = client.get_json(f"/{index}/{project}/")
        shown = sorted_versions(versions)
        for version in shown if args.all else shown[:1]:
            out(f"{versions[version].get('name', project)}=={version}")
    return 0


def sorted_versions(versions: dict) -> list[str]:
    """Version strings, newest first; strings that are not PEP 440 versions come last."""
    from packaging.version import InvalidVersion
    from packaging.version import Version

    def key(text: str):
        try:
            return (1, Version(text), text)
        except InvalidVersion:
            return (0, Version("0"), text)

    return sorted(versions, key=key, reverse=True)


def list_versions(
    client: Client, index: str, spec: ReleaseSpec, versions: dict, args: argparse.Namespace
) -> int:
    matching = [v for v in sorted_versions(versions) if spec.matches(v)]
    if not matching:
        raise ClientError(f"no version of {spec.project} matches {args.spec!r} on {index}")
    shown = matching if args.all else matching[:NEWEST_SHOWN]
    for version in shown:
        verdata = versions[version]
        for data in (verdata, *verdata.get("+shadowing", ())):
            show_files(client, data, toxresults=args.toxresults or args.failures, args=args)
    hidden = len(matching) - len(shown)
    if hidden:
        out(f"{hidden} older versions not shown, use --all to see")
    return 0


def show_files(client: Client, verdata: dict, *, toxresults: bool, args) -> None:
    """Print the release file URLs of one version, each followed by its tox results."""
    links = verdata.get("+links") or []
    files = sorted(
        (link for link in links if link.get("rel") == "releasefile"),
        key=lambda link: link["href"].rsplit("/", 1)[-1],
    )
    for link in files:
        out(link["href"])
        if toxresults:
            results = [x for x in links if x.get("rel") == "toxresult"]
            show_toxresults(client, link["href"], results, failures=args.failures)


def show_toxresults(client: Client, href: str, links: list[dict], *, failures: bool) -> None:
    """Print each environment's newest tox result for the release file at ``href``."""
    mine = [link for link in links if _same_file(link.get("for_href"), href)]
    loaded = []
    for link in reversed(mine):  # newest first: results are listed in upload order
        try:
            loaded.append(toxshow.parse_toxresult(_fetch(client, link["href"])))
        except toxshow.BadToxResult:
            warn(f"corrupt tox result, skipping: {link['href']}")
    for env in toxshow.newest_first(loaded):
        for _, text in toxshow.status_lines(env, failures=failures):
            out(f"  {text}")


def _same_file(for_href: str | None, href: str) -> bool:
    return bool(for_href) and for_href.split("#", 1)[0] == href.split("#", 1)[0]


def _fetch(client: Client, href: str) -> bytes:
    # The stored JSON file itself: asking for JSON would get the file's metadata instead.
    return client.request("GET", href.split("#", 1)[0], headers={"Accept": "*/*"}).content
