"""Storing what a mirror fetched: a verified file with its record, a metadata file."""

from __future__ import annotations

import hashlib
import io
import logging

from cheesecellar.errors import BadRequest
from cheesecellar.model import keys
from cheesecellar.model.distfiles import parse_filename
from cheesecellar.model.distfiles import read_core_metadata

log = logging.getLogger(__name__)


def store_download(storage, path, relpath: str, entry: dict, where: dict) -> None:
    """Store the downloaded file at ``relpath`` with a ``file/`` record naming its
    index, project and version. A wheel whose upstream offers no PEP 658 file gets one
    computed from its METADATA, which its page then advertises."""
    metadata = None
    if entry["filename"].endswith(".whl") and not entry.get("core_metadata"):
        metadata = _wheel_metadata(path, entry["filename"])
    with storage.transaction(write=True) as tx:
        with open(path, "rb") as fp:
            ref = tx.store_file(relpath, fp)
        expected = entry["hashes"].get("sha256")
        if expected and ref.sha256 != expected.lower():
            raise ValueError(f"{entry['filename']} changed on disk before it was stored")
        record = {**where, "mirror": True, "hashes": {**entry["hashes"], "sha256": ref.sha256}}
        if metadata is not None:
            tx.store_file(relpath + ".metadata", io.BytesIO(metadata))
            record["core_metadata"] = {"sha256": hashlib.sha256(metadata).hexdigest()}
        tx.set(keys.file(relpath), record)


def store_metadata(storage, relpath: str, data: bytes) -> None:
    """Keep a PEP 658 file fetched from upstream, so it is fetched once."""
    with storage.transaction(write=True) as tx:
        if tx.file_info(relpath) is None:
            tx.store_file(relpath, io.BytesIO(data))


def _wheel_metadata(path, filename: str) -> bytes | None:
    try:
        dist = parse_filename(filename)
        with open(path, "rb") as fp:
            return read_core_metadata(dist, fp)
    except BadRequest as exc:
        log.warning("no core metadata from %s: %s", filename, exc.message)
        return None
