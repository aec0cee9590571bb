"""``cellar export``: one snapshot of a server written as a cheesecellar export."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from cheesecellar.config import ConfigError
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.serverdir import NodeInfo
from cheesecellar.serverdir import is_initialised
from cheesecellar_export.blobcopy import BlobChanged
from cheesecellar_export.blobcopy import BlobCopier
from cheesecellar_export.document import Built
from cheesecellar_export.document import ExportError
from cheesecellar_export.document import build_document
from cheesecellar_export.dump import DOCUMENT_NAME
from cheesecellar_export.dump import FILES_DIR
from cheesecellar_export.snapshots import open_snapshot
from cheesecellar_export.staging import StagedDir
from cheesecellar_export.writer import Counts

#: Snapshots tried when a running server removes a file before it is copied.
ATTEMPTS = 3


@dataclasses.dataclass
class ExportResult:
    counts: Counts
    serial: int
    seconds: float
    linked: int
    warnings: list[str]


def run_export(
    pm,
    settings,
    exportdir: Path,
    *,
    include_mirrored: bool = False,
    hard_links: bool = False,
    notice: Callable[[str], None] = print,
) -> ExportResult:
    """Export the server directory of ``settings`` into the new or empty ``exportdir``.

    Nothing appears in ``exportdir`` unless the whole export succeeds.
    """
    serverdir = settings.serverdir
    if not is_initialised(serverdir):
        raise ConfigError(f"{serverdir} is not a server directory")
    node = NodeInfo.load(serverdir)
    source = {"uuid": node.uuid, "role": node.role}
    types = IndexTypeRegistry(pm)
    started = time.monotonic()
    staged = StagedDir(exportdir, "export directory")
    try:
        built, copier = _export_with_retries(
            pm, settings, staged.area, types, source, include_mirrored, hard_links, notice
        )
        write_document(staged.area / DOCUMENT_NAME, built.document)
        staged.commit(last=DOCUMENT_NAME)
    except BaseException:
        staged.discard()
        raise
    counts = Counts.of(built.document)
    serial = built.document["source"]["serial"]
    seconds = time.monotonic() - started
    return ExportResult(counts, serial, seconds, copier.linked, built.warnings)


def _export_with_retries(pm, settings, area, types, source, include_mirrored, hard_links, notice):
    """Export from a snapshot; if the running server removes a file before it is copied,
    again from a newer one. Blobs already copied and still listed are kept."""
    copier = BlobCopier(area / FILES_DIR, hard_links, notice)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with open_snapshot(pm, settings.serverdir, settings.storage_backend) as snapshot:
                built = build_document(snapshot, types, source, include_mirrored)
                copy_blobs(snapshot, built, copier)
            copier.prune(built.blobs)
            return built, copier
        except BlobChanged as exc:
            if attempt == ATTEMPTS:
                message = f"{exc} (the server kept changing it, or its file tree is damaged)"
                raise ExportError(message) from None
            notice(f"{exc}; exporting again from a newer snapshot")
    raise AssertionError("unreachable")


def copy_blobs(snapshot, built: Built, copier: BlobCopier) -> None:
    """Copy every blob the document lists, checking its sha256 and size."""
    for ref in built.blobs.values():
        copier.add(snapshot, ref)


def write_document(path: Path, document: dict) -> None:
    with open(path, "w", encoding="utf-8") as fp:
        json.dump(document, fp, indent=1, sort_keys=True, ensure_ascii=False)
        fp.write("\n")
        fp.flush()
        os.fsync(fp.fileno())
