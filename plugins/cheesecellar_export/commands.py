"""``cellar export`` and ``cellar import``: arguments, one-line errors, summaries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cheesecellar.config import ConfigError
from cheesecellar.config import resolve_settings
from cheesecellar.serverdir import EMPTY_ROOT_WARNING
from cheesecellar.storage import StorageError
from cheesecellar_export.document import ExportError
from cheesecellar_export.dump import DumpError
from cheesecellar_export.writer import Counts

EXPORT_DESCRIPTION = """\
Write the whole state of a server directory (users with their password hashes, indexes,
releases with their metadata, files, documentation, tox results) into EXPORTDIR, which
must not exist or be empty. The export reads one consistent snapshot; with the default
storage it works while a server runs on the directory. Nothing appears in EXPORTDIR
unless the export succeeds.
"""

IMPORT_DESCRIPTION = """\
Build a new server directory from EXPORTDIR: a cheesecellar export (cellar-export.json)
or a devpi-server export (dataindex.json). The server directory must not exist or be
empty. Every file's sha256 and size are checked; if anything is wrong, the server
directory is left as it was and the problem is named.
"""

ERRORS = (ConfigError, DumpError, ExportError, StorageError, OSError)


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser(
        "export", help="export a server directory", description=EXPORT_DESCRIPTION
    )
    _server_arguments(export)
    export.add_argument(
        "--include-mirrored-files",
        action="store_true",
        help="also export the pages and files mirror indexes have cached",
    )
    export.add_argument(
        "--hard-links",
        action="store_true",
        help="hard-link files instead of copying them (copies where that is not possible)",
    )
    export.add_argument(
        "exportdir", type=Path, metavar="EXPORTDIR", help="where to write (new or empty)"
    )
    export.set_defaults(func=cmd_export)
    imp = subparsers.add_parser(
        "import",
        help="import an export into a new server directory",
        description=IMPORT_DESCRIPTION,
    )
    _server_arguments(imp)
    imp.add_argument(
        "exportdir",
        type=Path,
        metavar="EXPORTDIR",
        help="a directory with cellar-export.json or devpi's dataindex.json",
    )
    imp.set_defaults(func=cmd_import)


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--serverdir", type=Path, help="server directory (as for 'cellar serve')")
    parser.add_argument("-c", "--configfile", type=Path, help="config file (as for 'cellar serve')")


def _settings(args, options):
    given = {"serverdir": args.serverdir, "configfile": args.configfile}
    namespace = argparse.Namespace(**{k: v for k, v in given.items() if v is not None})
    return resolve_settings(options["serve"], namespace)


def _notice(message: str) -> None:
    print(message, file=sys.stderr)


def _fail(command: str, exc: BaseException | str) -> int:
    message = exc.args[0] if isinstance(exc, ConfigError | StorageError) else str(exc)
    print(f"cellar {command}: error: {message}", file=sys.stderr)
    return 1


def cmd_export(args, options) -> int:
    from cheesecellar_export.exporter import run_export

    try:
        settings = _settings(args, options)
        result = run_export(
            args.pm,
            settings,
            args.exportdir,
            include_mirrored=args.include_mirrored_files,
            hard_links=args.hard_links,
            notice=_notice,
        )
    except ERRORS as exc:
        return _fail("export", exc)
    except KeyboardInterrupt:
        return _fail("export", "interrupted; nothing was written")
    for warning in result.warnings:
        _notice(f"warning: {warning}")
    linked = f", {result.linked} of them hard-linked" if args.hard_links else ""
    print(
        f"exported serial {result.serial} of {settings.serverdir} to {args.exportdir}: "
        f"{_counts(result.counts)}{linked} in {result.seconds:.1f} s"
    )
    return 0


def cmd_import(args, options) -> int:
    from cheesecellar_export.importer import run_import

    try:
        settings = _settings(args, options)
        result = run_import(args.pm, settings, args.exportdir)
    except ERRORS as exc:
        return _fail("import", exc)
    except KeyboardInterrupt:
        return _fail("import", "interrupted; the server directory is as it was")
    for warning in result.warnings:
        _notice(f"warning: {warning}")
    print(
        f"imported {result.origin} from {args.exportdir} into {settings.serverdir}: "
        f"{_counts(result.counts)} in {result.seconds:.1f} s "
        f"(serial {result.serial}, uuid {result.uuid})"
    )
    if result.root_created:
        _notice("the dump has no user 'root': created it with an empty password")
        _notice(EMPTY_ROOT_WARNING)
    return 0


def _counts(counts: Counts) -> str:
    megabytes = counts.bytes / 1e6
    return (
        f"{counts.users} users, {counts.indexes} indexes, {counts.projects} projects, "
        f"{counts.versions} versions, {counts.files} files ({megabytes:.1f} MB)"
    )
