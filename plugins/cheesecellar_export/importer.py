"""``cellar import``: a dump written into a new server directory, all or nothing."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from cheesecellar import __version__
from cheesecellar.auth.passwords import hash_password
from cheesecellar.auth.passwords import verify_password
from cheesecellar.config import ConfigError
from cheesecellar.dirlock import LOCK_NAME
from cheesecellar.dirlock import DirectoryLock
from cheesecellar.events import EVENT_SERIAL
from cheesecellar.model import users
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.serverdir import NODEINFO
from cheesecellar.serverdir import ROOT_EMPTY_PWHASH
from cheesecellar.serverdir import SERVERVERSION
from cheesecellar.serverdir import NodeInfo
from cheesecellar.storage import open_storage
from cheesecellar_export.dump import Dump
from cheesecellar_export.reader import load_dump
from cheesecellar_export.staging import SERVER_DIR_ALLOWED
from cheesecellar_export.staging import StagedDir
from cheesecellar_export.validate import validate
from cheesecellar_export.writer import Counts
from cheesecellar_export.writer import write_dump


@dataclasses.dataclass
class ImportResult:
    counts: Counts
    origin: str
    uuid: str
    serial: int
    seconds: float
    root_created: bool
    warnings: list[str]


def run_import(pm, settings, exportdir: Path) -> ImportResult:
    """Import the dump in ``exportdir`` into the empty (or missing) server directory of
    ``settings``. On failure the directory is left as it was."""
    if settings.role == "replica":
        raise ConfigError("a replica gets its data from its primary; import into the primary")
    serverdir = settings.serverdir
    made = not serverdir.exists()
    StagedDir.check_empty(serverdir, "server directory", SERVER_DIR_ALLOWED)
    serverdir.mkdir(parents=True, exist_ok=True)
    had_lock_file = (serverdir / LOCK_NAME).exists()
    lock = DirectoryLock(serverdir)
    try:
        lock.acquire()
        return _import_locked(pm, settings, exportdir)
    except BaseException:
        lock.release()
        if made:
            shutil.rmtree(serverdir, ignore_errors=True)
        elif not had_lock_file:
            (serverdir / LOCK_NAME).unlink(missing_ok=True)
        raise
    finally:
        lock.release()


def _import_locked(pm, settings, exportdir: Path) -> ImportResult:
    started = time.monotonic()
    serverdir = settings.serverdir
    staged = StagedDir(serverdir, "server directory", SERVER_DIR_ALLOWED)
    workdir = None
    try:
        # Generated blobs (a devpi dump's wheel metadata) stay beside the staging area.
        workdir = Path(tempfile.mkdtemp(prefix=".import-work-", dir=serverdir))
        dump = load_dump(exportdir, workdir)
        validate(dump, IndexTypeRegistry(pm))
        pm.hook.cellar_configure(settings=settings)
        serial, root_created = _fill(pm, settings, staged.area, dump)
        node = NodeInfo(uuid.uuid4().hex, "standalone")
        (staged.area / SERVERVERSION).write_text(__version__ + "\n")
        node.save(staged.area)
        staged.commit(last=NODEINFO)
    except BaseException:
        staged.discard()
        raise
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    counts = Counts.of(dump.document)
    seconds = time.monotonic() - started
    return ImportResult(
        counts, dump.origin, node.uuid, serial, seconds, root_created, dump.warnings
    )


def _fill(pm, settings, area: Path, dump: Dump) -> tuple[int, bool]:
    """Write ``dump`` into a new store in ``area``; return its last serial and whether
    root had to be created."""
    storage = open_storage(pm, area, settings.storage_backend)
    try:
        write_dump(storage, dump)
        root_created = _ensure_root(storage)
        serial = storage.last_serial()
        # Old uploads are history, not news: no trigger or webhook fires for them. The
        # search index follows the changelog on its own and indexes them all.
        storage.set_meta(EVENT_SERIAL, serial)
    finally:
        storage.close()
    return serial, root_created


def _ensure_root(storage) -> bool:
    """Create root with an empty password if the dump has none; remember an empty root
    password, so that the server warns about it as after ``cellar init``."""
    with storage.transaction() as tx:
        record = users.get_user(tx, "root")
    if record is None:
        pwhash = hash_password("")
        with storage.transaction(write=True) as tx:
            users.create_user_with_hash(tx, "root", pwhash)
        storage.set_meta(ROOT_EMPTY_PWHASH, pwhash)
        return True
    pwhash = record.get("pwhash")
    if pwhash and verify_password(pwhash, ""):
        storage.set_meta(ROOT_EMPTY_PWHASH, pwhash)
    return False
