"""The replication protocol: paths, headers, bounds, and changelog entries as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from cheesecellar.storage import ChangelogEntry
from cheesecellar.storage import split_stored_changes
from cheesecellar.storage import stored_changes

CHANGES_PATH = "/+replica/changes"
BLOB_PATH = "/+replica/blob/"

#: The replica's token (see :mod:`cheesecellar_replica.tokens`), its uuid and its URL.
TOKEN_HEADER = "X-Cellar-Replica-Token"
UUID_HEADER = "X-Cellar-Replica-Uuid"
OUTSIDE_URL_HEADER = "X-Cellar-Replica-Outside-Url"
#: The sha256 of a blob the primary sends.
SHA256_HEADER = "X-Cellar-Sha256"

#: Longest wait of a changes request for a new serial, in seconds.
MAX_WAIT = 30.0
#: Most entries and (about) most bytes of JSON one changes answer carries.
MAX_ENTRIES = 5000
MAX_BYTES = 8 * 1024 * 1024
#: ``BLOB_PATH + BATCH`` answers several small blobs (``?path=...`` repeated) at once:
#: a line of JSON (an entry per path: path, sha256, size, or ``missing``), then the
#: contents one after the other. At most BATCH_PATHS paths, each of at most BATCH_BLOB_MAX
#: bytes (a larger one is ``missing`` and asked for alone).
BATCH = "+batch"
BATCH_PATHS = 64
BATCH_BLOB_MAX = 64 * 1024


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def entry_to_json(entry: ChangelogEntry) -> dict:
    """One entry on the wire: its blob changes are ``+blob/{path}`` keys among the
    records' changes, as the fs backend stores them."""
    return {
        "serial": entry.serial,
        "timestamp": entry.timestamp,
        "changes": stored_changes(entry.changes, entry.files),
    }


def entry_from_json(data: dict) -> ChangelogEntry:
    """Read one entry; raises ValueError (or KeyError, TypeError) for malformed data."""
    changes, files = split_stored_changes(data["changes"])
    serial, timestamp = data["serial"], data["timestamp"]
    if not isinstance(serial, int) or not isinstance(timestamp, int | float):
        raise ValueError(f"malformed changelog entry {serial!r}")
    return ChangelogEntry(serial, float(timestamp), changes, files)


def stream_changes(storage, head: dict, since: int, limit: int) -> Iterator[bytes]:
    """The JSON answer to a changes request, in pieces: ``head`` with ``entries`` from
    serial ``since`` on, at most ``limit`` of them and about :data:`MAX_BYTES`."""
    yield dumps(head)[:-1].encode() + b',"entries":['
    size = 0
    upto = storage.last_serial()
    for serial in range(since, min(upto, since + limit - 1) + 1):
        entry = storage.changelog(serial)
        if entry is None:
            break
        piece = dumps(entry_to_json(entry)).encode()
        yield piece if serial == since else b"," + piece
        size += len(piece)
        if size >= MAX_BYTES:
            break
    yield b"]}"
