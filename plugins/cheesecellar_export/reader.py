"""Read a dump directory: a cheesecellar export, or a devpi-server export."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cheesecellar.storage import StorageError
from cheesecellar.storage import check_relpath
from cheesecellar_export.dump import DOCUMENT_NAME
from cheesecellar_export.dump import FILES_DIR
from cheesecellar_export.dump import FORMAT_NAME
from cheesecellar_export.dump import FORMAT_VERSION
from cheesecellar_export.dump import Dump
from cheesecellar_export.dump import DumpError

DEVPI_DOCUMENT = "dataindex.json"


def load_dump(exportdir: Path, workdir: Path) -> Dump:
    """Read the dump in ``exportdir``, whichever format it has.

    :param workdir: an empty directory a reader may write generated blobs into; it
        must outlive the import.
    """
    if not exportdir.is_dir():
        raise DumpError(f"{exportdir} is not a directory")
    if (exportdir / DOCUMENT_NAME).exists():
        return read_cellar_export(exportdir)
    if (exportdir / DEVPI_DOCUMENT).exists():
        from cheesecellar_export.devpi import read_devpi_dump

        return read_devpi_dump(exportdir, workdir)
    raise DumpError(
        f"{exportdir} holds neither {DOCUMENT_NAME} (a cheesecellar export) "
        f"nor {DEVPI_DOCUMENT} (a devpi-server export)"
    )


def read_json(path: Path) -> object:
    try:
        with open(path, "rb") as fp:
            return json.load(fp)
    except OSError as exc:
        raise DumpError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DumpError(f"{path} is not valid JSON: {exc}") from None


def read_cellar_export(exportdir: Path) -> Dump:
    """Read ``cellar-export.json`` and map each listed blob to its file under ``files/``;
    a file there that the document does not list is an error."""
    path = exportdir / DOCUMENT_NAME
    document = read_json(path)
    check_header(document, path)
    blobs = document.get("blobs")
    if not isinstance(blobs, dict):
        raise DumpError(f"{path}: 'blobs' must be an object")
    files = exportdir / FILES_DIR
    sources = {}
    for relpath in blobs:
        try:
            sources[relpath] = files / check_relpath(relpath)
        except StorageError as exc:
            raise DumpError(f"{path}: blobs: {exc}") from None
    unlisted = next(iter(_unlisted(files, sources)), None)
    if unlisted is not None:
        raise DumpError(f"{FILES_DIR}/{unlisted} is not listed in {DOCUMENT_NAME}")
    return Dump(document, sources, f"cheesecellar export v{FORMAT_VERSION}")


def check_header(document: object, path: Path) -> None:
    """Refuse anything but a cheesecellar export of a version this code reads."""
    if not isinstance(document, dict):
        raise DumpError(f"{path} does not hold a JSON object")
    if document.get("format") != FORMAT_NAME:
        raise DumpError(f"{path}: unknown format {document.get('format')!r}")
    if document.get("version") != FORMAT_VERSION:
        raise DumpError(
            f"{path}: format version {document.get('version')!r} is not supported "
            f"(this cellar reads version {FORMAT_VERSION})"
        )


def _unlisted(files: Path, sources: dict[str, Path]):
    """Relative paths of the files under ``files`` that no blob names."""
    if not files.is_dir():
        return
    for dirpath, _dirnames, filenames in os.walk(files):
        base = Path(dirpath).relative_to(files)
        for name in filenames:
            relpath = (base / name).as_posix()
            if relpath not in sources:
                yield relpath
