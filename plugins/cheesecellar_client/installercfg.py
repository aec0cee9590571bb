"""``cellar use --set-cfg``: point pip (pip.conf) and uv (uv.toml) at the current index."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from cheesecellar_client import inifile
from cheesecellar_client import uvfile
from cheesecellar_client.http import ClientError


def _config_home() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home())
    configured = os.environ.get("XDG_CONFIG_HOME")
    return Path(configured) if configured else Path.home() / ".config"


def pip_config_path() -> Path:
    """pip's config file: ``$PIP_CONFIG_FILE``, else the user's ``pip/pip.conf``."""
    explicit = os.environ.get("PIP_CONFIG_FILE")
    if explicit and explicit != os.devnull:
        return Path(explicit).expanduser()
    name = "pip.ini" if sys.platform == "win32" else "pip.conf"
    return _config_home() / "pip" / name


def uv_config_path() -> Path:
    """uv's config file: ``$UV_CONFIG_FILE``, else the user's ``uv/uv.toml``."""
    explicit = os.environ.get("UV_CONFIG_FILE")
    if explicit:
        return Path(explicit).expanduser()
    return _config_home() / "uv" / "uv.toml"


def trusted_host(simple_url: str) -> str | None:
    """The ``host[:port]`` pip must trust for a plain-http index, else None."""
    parts = urlsplit(simple_url)
    if parts.scheme != "http":
        return None
    return parts.netloc.rsplit("@", 1)[-1]


def pip_config_update(simple_url: str) -> tuple[Path, str]:
    """pip's config file and its new text: ``index-url`` (and ``trusted-host`` for http)."""
    path = pip_config_path()
    updates = {"index-url": lambda old: simple_url}
    host = trusted_host(simple_url)
    if host:
        updates["trusted-host"] = lambda old: _add_word(old, host)
    return path, inifile.update_section(_read(path), "global", updates)


def uv_config_update(simple_url: str) -> tuple[Path, str]:
    """uv's config file and its new text, with the index as uv's default index."""
    path = uv_config_path()
    return path, uvfile.set_default_index(_read(path), simple_url, path)


def write_configs(simple_url: str) -> list[Path]:
    """Point pip and uv at ``simple_url``; both files are checked before either is written."""
    updates = [pip_config_update(simple_url), uv_config_update(simple_url)]
    for path, text in updates:
        _write(path, text)
    return [path for path, _ in updates]


def pip_index(path: Path) -> str | None:
    """The ``index-url`` of pip's config file, or None."""
    return inifile.read_option(_read(path), "global", "index-url") if path.exists() else None


def uv_index(path: Path) -> str | None:
    """The default index of uv's config file, or None."""
    return uvfile.default_index(_read(path), path) if path.exists() else None


def ignored_by(tool: str) -> str | None:
    """Why ``tool`` would not read the file we write, if it would not."""
    if tool == "pip" and os.environ.get("PIP_CONFIG_FILE") == os.devnull:
        return f"PIP_CONFIG_FILE is {os.devnull}: pip reads no config file"
    if tool == "uv" and os.environ.get("UV_NO_CONFIG"):
        return "UV_NO_CONFIG is set: uv reads no config file"
    return None


def _add_word(old: str | None, word: str) -> str:
    words = (old or "").split()
    return " ".join(words if word in words else [*words, word])


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror}") from exc


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".cellar-tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ClientError(f"cannot write {path}: {exc.strerror}") from exc
