"""The server secret: read from a file whose permissions are checked, or generated."""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

from cheesecellar.config import ConfigError

MIN_SECRET_BYTES = 32
DEFAULT_SECRET_NAME = ".secret"


def check_secret_file(path: Path) -> None:
    """Refuse a secret file that others could read or replace."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"secret file {path} does not exist (create it with "
            f"'cellar gen-secret --secretfile {path}')"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"secret file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise ConfigError(
            f"secret file {path} is accessible by group or others "
            f"(mode {stat.filemode(info.st_mode)}); run 'chmod 600 {path}'"
        )
    parent = path.resolve().parent.stat()
    if parent.st_mode & 0o022 and not parent.st_mode & stat.S_ISVTX:
        raise ConfigError(f"the directory of secret file {path} is writable by group or others")


def read_secret(path: Path) -> bytes:
    """Read and check a secret file: safe permissions and at least 32 bytes."""
    check_secret_file(path)
    data = path.read_bytes().strip()
    if len(data) < MIN_SECRET_BYTES:
        raise ConfigError(f"secret in {path} is shorter than {MIN_SECRET_BYTES} bytes")
    return data


def write_secret(path: Path) -> None:
    """Write a new random secret (32 bytes, base64) readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")


def load_server_secret(secretfile: Path | None, serverdir: Path) -> bytes:
    """The secret from ``--secretfile``, else the server directory's own, made on first use.

    Keeping a secret in the server directory means login tokens survive a restart
    (devpi makes a new one at every start unless a secret file is given).
    """
    if secretfile is not None:
        return read_secret(secretfile)
    own = serverdir / DEFAULT_SECRET_NAME
    if not own.exists():
        write_secret(own)
    return read_secret(own)
