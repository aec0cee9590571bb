"""Writing values into nginx, systemd and compose files: what is refused, how the rest is quoted."""

from __future__ import annotations

import json
import re

from cheesecellar.config import ConfigError

# Control characters end a line of every format here. nginx expands ``$name`` even inside
# quotes and has no escape for it, so ``$`` cannot be written into a path it reads; ``"``
# and ``\`` are refused with it to keep one rule for every file.
_UNWRITABLE = re.compile(r'[\x00-\x1f\x7f"\\$]')
_SYSTEMD_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")
_NGINX_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")
_COMPOSE_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./~-]*")


def check_writable(what: str, value: str) -> str:
    """Return ``value`` or refuse one that the generated files could not hold safely."""
    found = _UNWRITABLE.search(value)
    if found:
        raise ConfigError(
            f"{what} {value!r} contains {found.group()!r}, which cannot be written into "
            "the generated files; choose one without quotes, backslashes, '$' or "
            "control characters"
        )
    return value


def systemd_word(value: str) -> str:
    """One word of a unit file's ``ExecStart=`` or path list, quoted when it needs it.

    ``%`` (specifiers) and ``$`` (variables) are expanded even inside quotes, so they are
    doubled.
    """
    if _SYSTEMD_PLAIN.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def nginx_word(value: str) -> str:
    """One argument of an nginx directive; the caller has refused ``$`` (see above)."""
    if _NGINX_PLAIN.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def compose_value(value: str) -> str:
    """A YAML string that docker compose reads as exactly ``value`` (``$`` doubled): always
    double-quoted, so that ``yes``, ``1`` or ``null`` stay strings."""
    return json.dumps(value.replace("$", "$$"), ensure_ascii=False)


def compose_default(variable: str, default: str) -> str:
    """``${VARIABLE:-default}``: a setting the environment or a ``.env`` file may change."""
    if not _COMPOSE_PLAIN.fullmatch(default):
        raise ConfigError(
            f"{default!r} cannot be the default of {variable} in docker-compose.yml "
            "(only letters, digits and _@+=:,./~- are kept as written there)"
        )
    return "${" + variable + ":-" + default + "}"
