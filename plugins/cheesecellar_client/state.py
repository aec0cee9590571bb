"""Where the ``cellar`` client keeps its state: server, index and login, per OS user."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys
import tempfile
from pathlib import Path

from cheesecellar_client.http import ClientError

#: The state file inside :func:`state_dir`.
STATE_FILE = "client.json"
#: Permission bits that nobody but the owner should have on the state file.
UNSAFE_FILE_BITS = stat.S_IRWXG | stat.S_IRWXO
#: A directory others can write to lets them swap the state file.
UNSAFE_DIR_BITS = stat.S_IWGRP | stat.S_IWOTH


def state_dir() -> Path:
    """The client's directory: ``$CELLAR_CLIENT_DIR``, else ``$XDG_CONFIG_HOME/cellar``.

    Falls back to ``~/.config/cellar``.
    """
    explicit = os.environ.get("CELLAR_CLIENT_DIR")
    if explicit:
        return Path(explicit)
    config_home = os.environ.get("XDG_CONFIG_HOME")
    base = Path(config_home) if config_home else Path.home() / ".config"
    return base / "cellar"


def state_path() -> Path:
    """The state file."""
    return state_dir() / STATE_FILE


@dataclasses.dataclass
class ClientState:
    """What ``cellar use`` and ``cellar login`` remember between commands."""

    url: str | None = None  # server root URL, no trailing slash
    index: str | None = None  # "user/index"
    username: str | None = None
    token: str | None = None  # login token from POST /+login

    @classmethod
    def load(cls) -> ClientState:
        """Read the state file; a missing file is an empty state.

        :raises ClientError: the file cannot be read or does not hold a client state.
        """
        path = state_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise ClientError(f"cannot read {path}: {exc.strerror}") from exc
        _warn_if_unsafe(path, UNSAFE_FILE_BITS)
        return cls._from_text(text, path)

    @classmethod
    def _from_text(cls, text: str, path: Path) -> ClientState:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ClientError(f"{path} is not valid JSON; remove it and run cellar use") from exc
        names = {field.name for field in dataclasses.fields(cls)}
        valid = isinstance(data, dict) and all(
            isinstance(data.get(name), str | None) for name in names
        )
        if not valid:
            raise ClientError(f"{path} does not hold a client state; remove it and run cellar use")
        return cls(**{name: data.get(name) for name in names})

    def save(self) -> None:
        """Write the state atomically, readable by the owner only (0600, directory 0700)."""
        path = state_path()
        _make_private_dir(path.parent)
        body = json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"
        write_private(path, body)

    @property
    def logged_in(self) -> bool:
        """Whether a user name and a login token are stored."""
        return bool(self.username and self.token)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically; the new file has mode 0600."""
    fd, tmpname = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fp:
            fp.write(text)
            fp.flush()
            os.fsync(fp.fileno())
        os.chmod(tmpname, 0o600)
        os.replace(tmpname, path)
    except BaseException:
        Path(tmpname).unlink(missing_ok=True)
        raise


def _make_private_dir(directory: Path) -> None:
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        # mkdir's mode is filtered through the umask; be explicit.
        os.chmod(directory, 0o700)
        return
    _warn_if_unsafe(directory, UNSAFE_DIR_BITS)


def _warn_if_unsafe(path: Path, bits: int) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & bits:
        print(
            f"warning: {path} is accessible by other users (mode {stat.S_IMODE(mode):04o});"
            f" run: chmod go-rwx {path}",
            file=sys.stderr,
        )
