"""The in-memory form of a dump that both readers produce and the importer writes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

FORMAT_NAME = "cheesecellar-export"
FORMAT_VERSION = 1
DOCUMENT_NAME = "cellar-export.json"
FILES_DIR = "files"


class DumpError(Exception):
    """A dump that cannot be imported; the message names the problem (file, user, index, key)."""


@dataclasses.dataclass
class Dump:
    """A dump ready for validation and import.

    :param document: a ``cellar-export.json`` document (format version 1).
    :param sources: every blob relpath -> the file to read its content from.
    :param origin: what the dump came from, for messages.
    :param warnings: things the reader noticed but could handle.
    """

    document: dict
    sources: dict[str, Path]
    origin: str
    warnings: list[str] = dataclasses.field(default_factory=list)
