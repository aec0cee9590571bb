"""The index directory: which whoosh index is current and up to which serial it is built.

``SERVERDIR/.search/state.json`` names the current whoosh directory (``ix-<id>``) and
the last serial whose changes it holds. A rebuild writes a new directory beside it and
switches by replacing ``state.json``, so searches use the old index until the new one is
complete. A directory that cannot be opened is thrown away and built again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage

from cheesecellar_search.schema import SCHEMA_VERSION
from cheesecellar_search.schema import make_schema

log = logging.getLogger(__name__)

DIRNAME = ".search"
STATE = "state.json"
#: The serial of an index that holds nothing yet: everything must be indexed. (-1 is
#: the serial of an empty store, which a built index may well be at.)
UNBUILT = -2


def files_of(path: Path) -> FileStorage:
    """Whoosh's storage of one index directory, read with plain file reads: with ``mmap``,
    every reader copies each part of a segment it opens out of the mapping, so each open
    searcher (and the indexer's) would hold a private copy of most of the index."""
    return FileStorage(str(path), supports_mmap=False)


def search_dir(serverdir: Path) -> Path:
    return Path(serverdir) / DIRNAME


class IndexStore:
    """The current whoosh index of a server and its indexed serial."""

    def __init__(self, basedir: Path) -> None:
        self.basedir = Path(basedir)
        self.basedir.mkdir(parents=True, exist_ok=True)
        self.serial = UNBUILT
        self.current, self.ix = self._open()
        self._remove_others()

    def _open(self) -> tuple[str, whoosh_index.Index]:
        state = self._read_state()
        if state is not None:
            name = state["current"]
            try:
                ix = files_of(self.basedir / name).open_index()
                with ix.searcher() as searcher:
                    searcher.doc_count()
                self.serial = int(state["serial"])
                return name, ix
            except Exception as exc:  # whatever a damaged directory raises
                log.warning("search index %s cannot be used (%s); building it again", name, exc)
        name, ix = self.new_index()
        self.save(name, UNBUILT)
        return name, ix

    def _read_state(self) -> dict | None:
        path = self.basedir / STATE
        try:
            state = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("search state %s unreadable (%s); building the index again", path, exc)
            return None
        if not isinstance(state, dict) or state.get("schema") != SCHEMA_VERSION:
            return None
        if not isinstance(state.get("current"), str) or not isinstance(state.get("serial"), int):
            return None
        if "/" in state["current"] or not state["current"].startswith("ix-"):
            return None
        return state

    def new_index(self) -> tuple[str, whoosh_index.Index]:
        """An empty index in a new directory."""
        name = f"ix-{uuid.uuid4().hex[:12]}"
        path = self.basedir / name
        path.mkdir()
        return name, files_of(path).create_index(make_schema())

    def save(self, current: str, serial: int) -> None:
        """Record ``current`` as built up to ``serial`` (atomically)."""
        state = {"schema": SCHEMA_VERSION, "current": current, "serial": serial}
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.basedir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(state, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.basedir / STATE)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.serial = serial

    def switch(self, name: str, ix: whoosh_index.Index, serial: int) -> None:
        """Make a newly built index the current one."""
        old = self.current
        self.save(name, serial)
        self.current, self.ix = name, ix
        self.discard(old)

    def discard(self, name: str) -> None:
        shutil.rmtree(self.basedir / name, ignore_errors=True)

    def _remove_others(self) -> None:
        """Directories of interrupted rebuilds."""
        for path in self.basedir.glob("ix-*"):
            if path.name != self.current:
                shutil.rmtree(path, ignore_errors=True)
