"""The server directory: node identity, first-time initialisation, the storage in it."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import uuid
from pathlib import Path

from cheesecellar import __version__
from cheesecellar.auth.passwords import hash_password
from cheesecellar.config import ConfigError
from cheesecellar.config import Settings
from cheesecellar.model import users
from cheesecellar.storage import open_storage

log = logging.getLogger(__name__)

NODEINFO = ".nodeinfo"
# devpi's deployment scripts test for this file to decide whether to initialise.
SERVERVERSION = ".serverversion"
ROOT_EMPTY_PWHASH = "root-empty-pwhash"

EMPTY_ROOT_WARNING = """\
********************************************************************************
WARNING: the user 'root' has an EMPTY PASSWORD. Anyone who can reach this server
can log in as root. Set one now, for example with devpi-client:
    devpi login root --password='' && devpi user -m root password=NEW
********************************************************************************"""


@dataclasses.dataclass(frozen=True)
class NodeInfo:
    uuid: str
    role: str
    primary_url: str | None = None
    primary_uuid: str | None = None

    @classmethod
    def load(cls, serverdir: Path) -> NodeInfo:
        data = json.loads((serverdir / NODEINFO).read_text())
        return cls(data["uuid"], data["role"], data.get("primary-url"), data.get("primary-uuid"))

    def save(self, serverdir: Path) -> None:
        data = {
            "uuid": self.uuid,
            "role": self.role,
            "primary-url": self.primary_url,
            "primary-uuid": self.primary_uuid,
        }
        _write_atomic(serverdir / NODEINFO, json.dumps(data, indent=2) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def is_initialised(serverdir: Path) -> bool:
    return (serverdir / NODEINFO).exists()


def check_empty(serverdir: Path) -> None:
    """Refuse to initialise a directory that holds anything but a server secret (and the
    lock of a server starting in it)."""
    if serverdir.exists() and any(p.name not in (".secret", ".lock") for p in serverdir.iterdir()):
        raise ConfigError(f"server directory {serverdir} is not empty and not initialised")


def init_serverdir(
    settings: Settings,
    pm,
    *,
    root_pwhash: str | None = None,
    root_passwd: str | None = None,
    storage=None,
) -> NodeInfo:
    """Create a server directory: node identity and, unless a replica, the first records.

    ``root`` gets ``root_passwd`` (or ``root_pwhash``); without either it gets an empty
    password. ``storage`` is an already open store of the directory; without it the
    store is opened and closed here.
    """
    serverdir = settings.serverdir
    if is_initialised(serverdir):
        raise ConfigError(f"server directory {serverdir} is already initialised")
    serverdir.mkdir(parents=True, exist_ok=True)
    if storage is None:
        check_empty(serverdir)
        storage = open_storage(pm, serverdir, settings.storage_backend)
        try:
            return init_serverdir(
                settings, pm, root_pwhash=root_pwhash, root_passwd=root_passwd, storage=storage
            )
        finally:
            storage.close()
    if storage.last_serial() >= 0:
        raise ConfigError(f"server directory {serverdir} already holds data")
    node = NodeInfo(uuid.uuid4().hex, settings.role, settings.primary_url)
    if settings.role != "replica":
        pwhash = root_pwhash or hash_password(root_passwd or "")
        with storage.transaction(write=True) as tx:
            users.create_user_with_hash(tx, "root", pwhash)
            pm.hook.cellar_init_serverdir(tx=tx, settings=settings)
        if not (root_pwhash or root_passwd):
            storage.set_meta(ROOT_EMPTY_PWHASH, pwhash)
    node.save(serverdir)
    (serverdir / SERVERVERSION).write_text(__version__ + "\n")
    return node


def root_has_empty_password(storage) -> bool:
    """Tell whether ``root`` still has the empty password it was initialised with.

    Initialisation records the hash of that empty password in node-local metadata; every
    password change makes a new salted hash, so an equal hash means an unchanged, empty
    password. This costs no argon2 check at start-up.
    """
    empty = storage.get_meta(ROOT_EMPTY_PWHASH)
    with storage.transaction() as tx:
        record = users.get_user(tx, "root")
    return bool(empty and record and record.get("pwhash") == empty)
