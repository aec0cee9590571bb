"""Helpers of the replication tests: a shared secret, a primary with replicas, digests."""

from __future__ import annotations

import hashlib
import json
import time

import cheesecellar_replica
from cheesecellar.auth.secret import write_secret
from cheesecellar.plugins import BUILTIN_PLUGINS

#: The plugin, unless the server registers it anyway (registering twice is an error).
PLUGINS = () if "cheesecellar_replica" in BUILTIN_PLUGINS else (cheesecellar_replica,)

#: Short long polls keep the servers quick to stop; a commit still answers at once.
FAST = {"replica_poll_wait": 2.0}


def make_secret(directory) -> object:
    """A new secret file (mode 0600) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "replica-secret"
    write_secret(path)
    return path


def start_primary(make_cellar, secretfile, **settings):
    extra = {"no_root_pypi": True, **FAST, **settings.pop("extra", {})}
    return make_cellar(
        plugins=PLUGINS,
        role="primary",
        secretfile=secretfile,
        extra=extra,
        **settings,
    )


def start_replica(make_cellar, primary_url: str, secretfile, **settings):
    extra = {**FAST, **settings.pop("extra", {})}
    return make_cellar(
        plugins=PLUGINS,
        role="replica",
        primary_url=primary_url,
        secretfile=secretfile,
        extra=extra,
        **settings,
    )


def wait_for(predicate, timeout: float = 30.0, what: str = "the condition"):
    """Poll ``predicate`` until it returns a true value; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def wait_for_serial(live, serial: int, timeout: float = 30.0) -> None:
    wait_for(lambda: live.storage.last_serial() >= serial, timeout, f"serial {serial}")


def store_digest(storage) -> str:
    """A digest of everything a store holds: every record, every blob row, and the
    content of every blob (read through the store, fetching on demand on a replica)."""
    digest = hashlib.sha256()
    with storage.transaction() as tx:
        for key in tx.keys(""):
            digest.update(json.dumps([key, tx.get(key)], sort_keys=True).encode())
        serial = tx.at_serial
    paths = set()
    for number in range(serial + 1):
        for change in storage.changelog(number).files:
            paths.add(change.path)
    with storage.transaction() as tx:
        for path in sorted(paths):
            info = tx.file_info(path)
            digest.update(repr((path, info and info.sha256, info and info.size)).encode())
    for path in sorted(paths):
        try:
            with storage.open_file(path) as fp:
                digest.update(hashlib.sha256(fp.read()).digest())
        except FileNotFoundError:
            digest.update(b"-")
    return digest.hexdigest()
