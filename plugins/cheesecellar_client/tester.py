"""``cellar test NAME[==VERSION]``: run a release's tox tests and upload the result."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import tempfile
from pathlib import Path
from urllib.parse import quote
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from packaging.tags import sys_tags
from packaging.utils import InvalidWheelFilename
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion
from packaging.version import Version

from cheesecellar_client import toxrun
from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.http import http_error
from cheesecellar_client.http import result_of
from cheesecellar_client.http import server_message
from cheesecellar_client.output import Progress
from cheesecellar_client.output import error
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.output import warn
from cheesecellar_client.specs import ReleaseSpec
from cheesecellar_client.specs import parse_spec
from cheesecellar_client.state import ClientState

DESCRIPTION = """\
Download a release from the index, run tox on it with the sdist's own tox configuration
(installing the wheel if there is one for this machine, else the sdist) and upload tox's
JSON result to the release file that was installed. Dependencies are installed from the
index. The exit code is tox's.
"""


@dataclasses.dataclass(frozen=True)
class FileLink:
    """A release file on the server."""

    url: str  # without fragment
    filename: str
    sha256: str | None


@dataclasses.dataclass(frozen=True)
class Release:
    name: str
    version: str
    sdist: FileLink | None
    wheel: FileLink | None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar test``."""
    parser = subparsers.add_parser(
        "test", help="run a release's tox tests and upload the result", description=DESCRIPTION
    )
    parser.add_argument("spec", metavar="NAME[==VERSION]", help="the release (default: newest)")
    parser.add_argument(
        "--index", metavar="USER/INDEX", help="test from here, not the current index"
    )
    parser.add_argument("-e", dest="envs", metavar="ENVS", help="tox environments to run")
    parser.add_argument(
        "-c", dest="toxini", type=Path, metavar="PATH",
        help="use this tox configuration instead of the sdist's",
    )  # fmt: skip
    parser.add_argument(
        "--tox-args", metavar="ARGS",
        help='more arguments for tox, in one string: --tox-args="-vv -- -k fast"',
    )  # fmt: skip
    parser.add_argument(
        "--sdist", action="store_true", help="install the sdist even if there is a wheel"
    )
    parser.add_argument("--no-upload", action="store_true", help="do not upload the tox result")
    parser.set_defaults(func=run_command(cmd_test))


def cmd_test(args: argparse.Namespace, options: object = None) -> int:
    client = Client(ClientState.load())
    index = client.require_index(args.index)
    release = find_release(client, index, parse_spec(args.spec))
    tested = choose_tested(release, index, prefer_sdist=args.sdist, has_config=bool(args.toxini))
    out(f"testing {release.name} {release.version} from {index}: {tested.filename}")
    with tempfile.TemporaryDirectory(prefix="cellar-test-") as tmp:
        workdir = Path(tmp)
        run = prepare_run(client, index, release, tested, args, workdir)
        returncode = toxrun.run_tox(run, shown_index_url=client.simple_url(index))
        if returncode != 0:
            error(f"tox failed with exit code {returncode}")
        if args.no_upload:
            return returncode
        uploaded = post_result(client, tested, run.result_json)
    return returncode if returncode != 0 or uploaded else 1


def choose_tested(
    release: Release, index: str, *, prefer_sdist: bool, has_config: bool
) -> FileLink:
    """The file tox installs: the wheel for this machine, else (or with --sdist) the sdist."""
    where = f"{release.name} {release.version} on {index}"
    if release.sdist is None and not has_config:
        raise ClientError(
            f"{where} has no sdist; cellar test needs the sdist's tox configuration"
            " (or give one with -c PATH)"
        )
    tested = release.sdist if prefer_sdist and release.sdist else release.wheel or release.sdist
    if tested is None:
        raise ClientError(f"{where} has no sdist and no wheel this machine can install")
    return tested


def find_release(client: Client, index: str, spec: ReleaseSpec) -> Release:
    """The newest version matching ``spec`` on ``index`` (and its bases), with its files."""
    response = client.request("GET", f"/{index}/{spec.project}", ok=(200, 404))
    if response.status_code == 404:
        raise ClientError(f"cannot find {spec.name} on {index}: {server_message(response)}")
    versions = result_of(response)
    version = pick_version([v for v in versions if spec.matches(v)])
    if version is None:
        raise ClientError(
            f"no version of {spec.name} on {index} matches {spec.specifier!r};"
            f" there are: {', '.join(sorted(versions)) or 'none'}"
        )
    links = versions[version].get("+links", ())
    files = [file_link(link) for link in links if link.get("rel") == "releasefile"]
    name = versions[version].get("name") or spec.name
    return Release(name, version, pick_sdist(files), pick_wheel(files))


def pick_version(versions: list[str]) -> str | None:
    """The newest of ``versions``; ones that are not PEP 440 versions sort first."""
    if not versions:
        return None
    return max(versions, key=_version_key)


def _version_key(text: str) -> tuple:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def file_link(link: dict) -> FileLink:
    url = link["href"].split("#", 1)[0]
    sha256 = (link.get("hashes") or {}).get("sha256")
    return FileLink(url, url.rsplit("/", 1)[-1], sha256)


def pick_sdist(files: list[FileLink]) -> FileLink | None:
    sdists = [f for f in files if f.filename.endswith((".tar.gz", ".zip"))]
    sdists.sort(key=lambda f: not f.filename.endswith(".tar.gz"))
    return sdists[0] if sdists else None


def pick_wheel(files: list[FileLink]) -> FileLink | None:
    """The wheel this machine would install, by pip's order of tag preference."""
    supported = {tag: rank for rank, tag in enumerate(sys_tags())}
    ranked = []
    for link in files:
        if not link.filename.endswith(".whl"):
            continue
        try:
            tags = parse_wheel_filename(link.filename)[3]
        except (InvalidWheelFilename, InvalidVersion):
            continue
        ranks = [supported[tag] for tag in tags if tag in supported]
        if ranks:
            ranked.append((min(ranks), link))
        else:
            warn(f"skipping {link.filename}: not installable on this machine")
    return min(ranked, key=lambda item: item[0])[1] if ranked else None


def prepare_run(
    client: Client, index: str, release: Release, tested: FileLink, args, workdir: Path
) -> toxrun.ToxRun:
    """Download and unpack what tox needs; the run's working directory is ``workdir``."""
    downloads = workdir / "downloads"
    downloads.mkdir()
    installpkg = download(client, tested, downloads)
    if release.sdist is not None:
        sdist = (
            installpkg if tested == release.sdist else download(client, release.sdist, downloads)
        )
        project_dir = toxrun.unpack_sdist(sdist, workdir / "sdist")
    else:
        project_dir = args.toxini.resolve().parent
    config = args.toxini.resolve() if args.toxini else toxrun.find_tox_config(project_dir)
    if config is None:
        raise ClientError(
            f"{release.sdist.filename} has no tox.ini, tox.toml, [tool.tox] in pyproject.toml"
            " or [tox:tox] in setup.cfg; give a tox configuration with -c PATH"
        )
    extra = toxrun.split_tox_args(args.tox_args)
    return toxrun.ToxRun(
        project_dir, installpkg, config, workdir / "toxresult.json",
        index_url_with_login(client, index), args.envs, extra,
    )  # fmt: skip


def same_server(client: Client, url: str) -> bool:
    return urlsplit(url)[:2] == urlsplit(client.require_url())[:2]


def download(client: Client, link: FileLink, directory: Path) -> Path:
    """Fetch ``link`` into ``directory`` and check its sha256."""
    target = directory / link.filename
    response = client.request(
        "GET", link.url, stream=True, headers={"Accept": "*/*"}, auth=same_server(client, link.url)
    )
    digest = hashlib.sha256()
    size = int(response.headers.get("Content-Length") or 0)
    with response, target.open("wb") as fp, Progress(size, f"downloading {link.filename}") as bar:
        for chunk in response.iter_content(64 * 1024):
            fp.write(chunk)
            digest.update(chunk)
            bar.advance(len(chunk))
    if link.sha256 and digest.hexdigest() != link.sha256:
        raise ClientError(
            f"{link.filename}: sha256 mismatch (expected {link.sha256}, got"
            f" {digest.hexdigest()}); not testing a file that differs from the index"
        )
    out(f"received {link.url}")
    return target


def index_url_with_login(client: Client, index: str) -> str:
    """The simple URL with the login in it, so pip can read from a protected index."""
    url = client.simple_url(index)
    state = client.state
    if not state.logged_in:
        return url
    parts = urlsplit(url)
    userinfo = f"{quote(state.username, safe='')}:{quote(state.token, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def post_result(client: Client, tested: FileLink, result_json: Path) -> bool:
    """Upload tox's JSON result to the tested file's URL; report and return success."""
    if not result_json.is_file():
        warn("tox wrote no result file; no tox result was uploaded")
        return False
    out(f"posting the tox result to {tested.url}")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    response = client.request(
        "POST", tested.url, data=result_json.read_bytes(), headers=headers, ok=range(100, 600)
    )
    if response.status_code != 200:
        failure = http_error(response, logged_in=client.state.logged_in)
        error(f"the tox result was not stored:\n{failure.message}")
        if response.status_code == 403:
            out("hint: cellar test --no-upload skips the upload")
        elif response.status_code == 405:
            out("hint: this server does not store tox results; use cellar test --no-upload")
        return False
    body = response.json() if "json" in response.headers.get("Content-Type", "") else {}
    if body.get("message") and not body.get("result"):
        warn(body["message"])
    else:
        out(f"tox result stored: {body.get('result', '')}")
    return True
