"""devpi users and index configurations as cheesecellar stores them, with devpi's migrations."""

from __future__ import annotations

import re
from typing import Any

from cheesecellar.auth.passwords import legacy_pwhash
from cheesecellar.errors import BadRequest
from cheesecellar.model.indextypes import COMMON_KEYS
from cheesecellar.model.names import check_name
from cheesecellar.model.stage import STAGE
from cheesecellar_export.dump import DumpError
from cheesecellar_mirror import MIRROR

#: Keys devpi derives when it shows a user; they are not part of the stored record.
DERIVED_USER_KEYS = ("username", "indexes")
#: devpi's import gives users without a creation time the epoch.
EPOCH = "1970-01-01T00:00:00Z"
#: Keys devpi accepts for a mirror index and drops (older devpi stored them).
IGNORED_ON_MIRRORS = ("bases", "acl_upload", "mirror_whitelist", "pypi_whitelist")
JENKINS_KEY = "uploadtrigger_jenkins"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_KNOWN_KEYS = {
    index_type.name: {key.name: key for key in COMMON_KEYS + index_type.keys}
    for index_type in (STAGE, MIRROR)
}


def convert_user(name: Any, record: Any, warnings: list[str]) -> dict:
    """devpi's stored user record as ours: ``pwhash`` kept (argon2), a pre-4.2 salted
    sha256 hash kept in a form :func:`~cheesecellar.auth.passwords.verify_password`
    knows, derived keys dropped, everything else kept."""
    check_dump_name("user", name)
    if not isinstance(record, dict):
        raise DumpError(f"dataindex.json: user {name}: the record is not a JSON object")
    converted = {k: v for k, v in record.items() if k not in (*DERIVED_USER_KEYS, "pwsalt")}
    converted.pop("pwhash", None)
    pwhash = _pwhash(name, record, warnings)
    if pwhash is not None:
        converted["pwhash"] = pwhash
    converted.setdefault("created", EPOCH)
    return converted


def check_dump_name(kind: str, name: Any) -> str:
    """A user or index name (``kind``) that cheesecellar accepts, else a DumpError."""
    if not isinstance(name, str):
        raise DumpError(f"dataindex.json: {kind} name {name!r} is not a string")
    try:
        return check_name(kind, name)
    except BadRequest as exc:
        raise DumpError(f"dataindex.json: {exc.message}") from None


def _pwhash(name: str, record: dict, warnings: list[str]) -> str | None:
    pwhash, salt = record.get("pwhash"), record.get("pwsalt")
    if pwhash is None:
        return None
    if isinstance(pwhash, str) and salt is None and pwhash.startswith("$argon2"):
        return pwhash
    if isinstance(pwhash, str) and isinstance(salt, str) and _HEX64.fullmatch(pwhash):
        return legacy_pwhash(salt, pwhash)
    warnings.append(
        f"user {name}: its password hash is of a kind cheesecellar does not know; the user "
        "was imported without a password (root can set one: "
        f"devpi user -m {name} password=...)"
    )
    return None


def convert_index_config(name: str, config: Any, warnings: list[str]) -> dict:
    """An index's ``indexconfig`` with devpi's migrations applied, the keys of stages
    and mirrors converted (missing defaults filled), unknown (plugin) keys kept as they are."""
    if not isinstance(config, dict):
        raise DumpError(f"dataindex.json: index {name}: 'indexconfig' is not a JSON object")
    index_type = config.get("type")
    if not isinstance(index_type, str):
        raise DumpError(f"dataindex.json: index {name}: 'indexconfig' has no 'type'")
    config = migrate_index_config(config)
    known = _KNOWN_KEYS.get(index_type, {})
    converted = {}
    for key, value in config.items():
        converted[key] = _convert(name, known[key], value) if key in known else value
    owner = name.partition("/")[0]
    for key in known.values():
        if key.has_default and key.name not in converted:
            converted[key.name] = key.default_for(owner)
    return converted


def migrate_index_config(config: dict) -> dict:
    """devpi's own migrations: ``pypi_whitelist`` became ``mirror_whitelist`` (devpi 3),
    an unset Jenkins trigger is dropped, mirrors lose the keys devpi ignores for them."""
    config = dict(config)
    if "pypi_whitelist" in config:
        whitelist = config.pop("pypi_whitelist")
        config.setdefault("mirror_whitelist", whitelist)
    if JENKINS_KEY in config and not config[JENKINS_KEY]:
        del config[JENKINS_KEY]
    if config.get("type") == "mirror":
        for key in IGNORED_ON_MIRRORS:
            config.pop(key, None)
    return config


def _convert(indexname: str, key, value: Any) -> Any:
    try:
        return key.convert(key.name, value)
    except BadRequest as exc:
        raise DumpError(f"dataindex.json: index {indexname}: {exc.message}") from None


def drop_missing_bases(configs: dict[str, dict], warnings: list[str]) -> None:
    """devpi imports an index whose base is not in the dump and warns; cheesecellar
    needs every base to exist, so such a base is left out, with a warning."""
    for name, config in configs.items():
        bases = config.get("bases")
        if not isinstance(bases, list):
            continue
        missing = [base for base in bases if base not in configs]
        if missing:
            config["bases"] = [base for base in bases if base in configs]
            warnings.append(
                f"index {name}: left out the bases that are not in the dump: {', '.join(missing)}"
            )
