"""``cellar upload``: build the project here (or take given files) and upload it to an index."""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path

from cheesecellar_client import projectbuild
from cheesecellar_client.distinfo import DistFile
from cheesecellar_client.distinfo import inspect
from cheesecellar_client.distinfo import metadata_fields
from cheesecellar_client.distinfo import read_metadata
from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.http import http_error
from cheesecellar_client.http import server_message
from cheesecellar_client.multipart import MultipartBody
from cheesecellar_client.output import Progress
from cheesecellar_client.output import error
from cheesecellar_client.output import human_size
from cheesecellar_client.output import out
from cheesecellar_client.output import run_command
from cheesecellar_client.state import ClientState

#: Statuses that stop the whole upload: every other file would fail the same way.
FATAL_STATUSES = (401, 403, 404, 405)
DESCRIPTION = """\
Upload release files and documentation to an index with the upload protocol pip's
tools use. Without FILE arguments, the project in the current directory is built first
(python -m build, into a temporary directory): an sdist and a wheel.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cellar upload``."""
    parser = subparsers.add_parser(
        "upload", help="build and upload the project here, or upload files", description=DESCRIPTION
    )
    parser.add_argument(
        "files", nargs="*", type=Path, metavar="FILE",
        help="a wheel, sdist or NAME-VERSION.doc.zip, or a directory holding them",
    )  # fmt: skip
    parser.add_argument(
        "--index", metavar="USER/INDEX", help="upload here, not to the current index"
    )
    parser.add_argument(
        "--no-isolation", action="store_true",
        help="build with the build tools installed here (needed without access to PyPI)",
    )  # fmt: skip
    parser.add_argument("--sdist", action="store_true", help="build only the sdist")
    parser.add_argument("--wheel", action="store_true", help="build only the wheel")
    parser.add_argument(
        "--with-docs", action="store_true",
        help="also upload the documentation (see --docs-zip)",
    )  # fmt: skip
    parser.add_argument("--only-docs", action="store_true", help="upload only the documentation")
    parser.add_argument(
        "--docs-zip", type=Path, metavar="PATH",
        help="the documentation: a zip file or a directory of HTML (default: docs/_build/html,"
        " or the Sphinx docs in docs/ built now)",
    )  # fmt: skip
    parser.add_argument(
        "--dry-run", action="store_true", help="build and show what would be uploaded; send nothing"
    )
    parser.set_defaults(func=run_command(cmd_upload))


def cmd_upload(args: argparse.Namespace, options: object = None) -> int:
    client = Client(ClientState.load())
    index = client.require_index(args.index)
    if args.sdist and args.wheel:
        args.sdist = args.wheel = False
    submit_url = check_target(client, index)
    with tempfile.TemporaryDirectory(prefix="cellar-upload-") as tmp:
        dists = collect(args, Path(tmp))
        if args.dry_run:
            return show_dry_run(dists, submit_url)
        failed = [dist for dist in dists if not upload_one(client, submit_url, index, dist)]
    if failed:
        names = ", ".join(upload_name(dist) for dist in failed)
        error(f"{len(failed)} of {len(dists)} uploads failed: {names}")
        return 1
    return 0


def check_target(client: Client, index: str) -> str:
    """The upload URL of ``index``; fails before any build if it cannot take our upload."""
    api = client.get_json(f"/{index}/+api")
    submit_url = api.get("pypisubmit")
    if not submit_url:
        raise ClientError(f"index {index} does not take uploads (it is a mirror)")
    status = (api.get("authstatus") or ["noauth"])[0]
    if client.state.logged_in and status != "ok":
        raise ClientError(
            f"the login of {client.state.username} has expired; log in again with: cellar login"
        )
    if status != "ok":
        config = client.get_json(f"/{index}", params={"no_projects": ""})
        if ":ANONYMOUS:" not in (config.get("acl_upload") or ()):
            raise ClientError(
                f"not logged in: uploads to {index} need a login; log in with: cellar login USER"
            )
    return submit_url


def collect(args: argparse.Namespace, workdir: Path) -> list[DistFile]:
    """The files to upload: given or built release files first, then the documentation."""
    given = expand(args.files)
    releases = [dist for dist in given if dist.kind != "doczip"]
    docs = [dist for dist in given if dist.kind == "doczip"]
    source = Path.cwd()
    if not args.files and not args.only_docs:
        built = projectbuild.build_dists(
            source, workdir / "dist", no_isolation=args.no_isolation, formats=formats(args)
        )
        releases = [inspect(path) for path in built]
    if args.with_docs or args.only_docs:
        name, version = docs_name_version(args, releases, source, workdir)
        zipped = projectbuild.docs_zip(source, args.docs_zip, workdir, name, version)
        docs.append(DistFile(zipped, "doczip", name, version))
    if args.only_docs:
        releases = []
    if not releases and not docs:
        raise ClientError("nothing to upload")
    return releases + docs


def formats(args: argparse.Namespace) -> tuple[str, ...]:
    if args.sdist:
        return ("sdist",)
    if args.wheel:
        return ("wheel",)
    return ("sdist", "wheel")


def expand(paths: list[Path]) -> list[DistFile]:
    """Files as given, and the distribution files inside given directories."""
    dists = []
    for path in paths:
        if path.is_dir():
            found = [_inspect_quietly(child) for child in sorted(path.iterdir()) if child.is_file()]
            found = [dist for dist in found if dist is not None]
            if not found:
                raise ClientError(f"{path}: holds no wheel, sdist or doc zip")
            dists.extend(found)
        elif path.is_file():
            dists.append(inspect(path))
        else:
            raise ClientError(f"{path}: no such file or directory")
    return dists


def _inspect_quietly(path: Path) -> DistFile | None:
    try:
        return inspect(path)
    except ClientError:
        return None


def docs_name_version(
    args: argparse.Namespace, releases: list[DistFile], source: Path, workdir: Path
) -> tuple[str, str]:
    """Which release the documentation belongs to."""
    if releases:
        return releases[0].name, releases[0].version
    found = projectbuild.static_name_version(source)
    if found:
        return found
    built = projectbuild.build_dists(
        source, workdir / "meta", no_isolation=args.no_isolation, formats=("sdist",)
    )
    dist = inspect(built[0])
    return dist.name, dist.version


def show_dry_run(dists: list[DistFile], submit_url: str) -> int:
    out(f"dry run: would upload to {submit_url}")
    for dist in dists:
        action = "doc_upload" if dist.kind == "doczip" else "file_upload"
        size = human_size(dist.path.stat().st_size)
        out(f"  {upload_name(dist)} ({dist.kind}, {size}, {action})")
    out("nothing was uploaded")
    return 0


def upload_name(dist: DistFile) -> str:
    if dist.kind == "doczip":
        return f"{dist.name}-{dist.version}.doc.zip"
    return dist.path.name


def form_fields(dist: DistFile) -> list[tuple[str, str]]:
    """The text fields of the upload form of ``dist``."""
    if dist.kind == "doczip":
        return [(":action", "doc_upload"), ("protocol_version", "1"),
                ("name", dist.name), ("version", dist.version)]  # fmt: skip
    fields = [(":action", "file_upload"), ("protocol_version", "1")]
    fields += metadata_fields(read_metadata(dist))
    fields += [("pyversion", dist.pyversion), ("filetype", dist.filetype)]
    fields.append(("sha256_digest", sha256_of(dist.path)))
    return fields


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fp:
        while chunk := fp.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def upload_one(client: Client, submit_url: str, index: str, dist: DistFile) -> bool:
    """Upload ``dist``; report the outcome. Errors that would hit every file raise."""
    name = upload_name(dist)
    try:
        body = MultipartBody(form_fields(dist), "content", dist.path, filename=name)
    except ClientError as exc:
        error(exc.message)
        return False
    headers = {"Content-Type": body.content_type, "Accept": "application/json"}
    with Progress(len(body), f"uploading {name}") as progress:
        body.on_chunk = progress.advance
        response = client.request(
            "POST", submit_url, data=body, headers=headers, ok=range(100, 600)
        )
    if response.status_code in (200, 201):
        out(f"{name} -> {index}: {_success_text(response)}")
        return True
    if response.status_code in FATAL_STATUSES:
        raise http_error(response, logged_in=client.state.logged_in)
    error(failure_text(response, name, index))
    return False


def _success_text(response) -> str:
    text = response.text.strip() if response.text else ""
    return (text.splitlines() or [response.reason or "stored"])[0]


def failure_text(response, name: str, index: str) -> str:
    message = server_message(response)
    if response.status_code == 409:
        return (
            f"{name} was not uploaded: {message}.\n"
            f"{index} is not volatile, so a stored file is never replaced by different"
            " content; release a new version instead"
        )
    return f"{name} was not uploaded: {response.status_code} {message}"
