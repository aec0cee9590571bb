"""The systemd unit: ``cellar serve`` with these options, as a dedicated user, hardened."""

from __future__ import annotations

import re
from pathlib import Path

from cheesecellar.config import ConfigError
from cheesecellar_genconfig.deployment import Deployment
from cheesecellar_genconfig.quoting import systemd_word
from cheesecellar_genconfig.render import GeneratedFile
from cheesecellar_genconfig.render import render

FILENAME = "cellar.service"
#: What ProtectHome=yes hides from the service.
HOMES = (Path("/home"), Path("/root"), Path("/run/user"))
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def check_user(user: str) -> str:
    """A user name systemd and useradd both accept (and not root: the point is a user
    of its own)."""
    if not _USER.fullmatch(user) or user == "root":
        raise ConfigError(
            f"--user {user!r} must be a system user name other than root "
            "(lower-case letters, digits, _ and -, at most 32)"
        )
    return user


def unit_file(deployment: Deployment, user: str) -> GeneratedFile:
    return GeneratedFile(FILENAME, render("cellar.service.jinja2", context(deployment, user)))


def context(deployment: Deployment, user: str) -> dict:
    settings = deployment.settings
    writable = [deployment.serverdir]
    log_dir = _access_log_dir(deployment)
    if log_dir is not None and not log_dir.is_relative_to(deployment.serverdir):
        writable.append(log_dir)
    secretfile = deployment.value("secretfile")
    used = [*writable, Path(deployment.command[0])]
    if secretfile is not None:
        used.append(Path(secretfile))
    in_home = any(path.is_relative_to(home) for path in used for home in HOMES)
    return {
        "role": settings.role,
        "user": check_user(user),
        "exec_start": _exec_start(deployment),
        "secret_comment": _secret_comment(settings.role, user) if secretfile else None,
        "log_dir": log_dir,
        "read_write_paths": " ".join(systemd_word(str(path)) for path in writable),
        "protect_home": "read-only" if in_home else "yes",
        "port": settings.port,
        "low_port": settings.port < 1024,
    }


def _exec_start(deployment: Deployment) -> str:
    """``cellar serve`` and its options, one option to a line."""
    lines = [[*deployment.command, "serve"], *deployment.serve_arg_groups()]
    return " \\\n    ".join(" ".join(systemd_word(word) for word in line) for line in lines)


def _access_log_dir(deployment: Deployment) -> Path | None:
    access_log = deployment.value("access_log")
    if access_log is None or str(access_log) == "-":
        return None
    return Path(access_log).parent


def _secret_comment(role: str, user: str) -> str:
    shared = {
        "primary": "The secret shared with the replicas",
        "replica": "The secret shared with the primary",
    }.get(role, "The secret that signs login tokens")
    return f"{shared} (--secretfile): owned by {user}, mode 0600."
