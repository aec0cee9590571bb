"""Users: create, read, modify, delete; passwords are stored only as argon2 hashes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from cheesecellar.auth.passwords import hash_password
from cheesecellar.auth.passwords import is_legacy
from cheesecellar.auth.passwords import verify_password
from cheesecellar.errors import BadRequest
from cheesecellar.errors import Conflict
from cheesecellar.errors import Forbidden
from cheesecellar.errors import NotFound
from cheesecellar.model import keys
from cheesecellar.model.indexes import remove_index_records
from cheesecellar.model.names import check_name

#: Keys a client may set; ``password`` is stored as ``pwhash``.
WRITABLE_KEYS = ("password", "pwhash", "email", "title", "description", "custom_data")
HIDDEN_KEYS = ("pwhash",)
SERVER_KEYS = ("created", "modified", "username", "indexes")


def now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def get_user(tx, username: str) -> dict | None:
    """The stored user record (with ``pwhash``), or None."""
    return tx.get(keys.user(username))


def require_user(tx, username: str) -> dict:
    record = get_user(tx, username)
    if record is None:
        raise NotFound(f"no user {username!r}")
    return record


def list_usernames(tx) -> list[str]:
    return [key[len(keys.USER_PREFIX) :] for key in tx.keys(keys.USER_PREFIX)]


def user_indexes(tx, username: str) -> dict[str, dict]:
    prefix = keys.user_indexes_prefix(username)
    return {key[len(prefix) :]: tx.get(key) for key in tx.keys(prefix)}


def public_userconfig(tx, username: str, record: Mapping[str, Any]) -> dict:
    """The user as the API shows it: no password hash, with its indexes."""
    config = {k: v for k, v in record.items() if k not in HIDDEN_KEYS}
    config["username"] = username
    config["indexes"] = user_indexes(tx, username)
    return config


def _check_values(changes: Mapping[str, Any]) -> None:
    for key in ("password", "pwhash", "email", "title", "description"):
        value = changes.get(key)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"user config {key!r} must be a string")
    pwhash = changes.get("pwhash")
    if pwhash and not pwhash.startswith("$argon2"):
        raise BadRequest("'pwhash' must be an argon2 hash")


def create_user(tx, username: str, body: Mapping[str, Any]) -> dict:
    """Create a user from a PUT body; the body must set ``password``."""
    check_name("user", username)
    unknown = sorted(set(body) - set(WRITABLE_KEYS))
    if unknown:
        raise BadRequest(f"Unknown keys in user config: {', '.join(unknown)}")
    if get_user(tx, username) is not None:
        raise Conflict("user already exists")
    if body.get("password") is None:
        raise BadRequest("password needs to be set")
    _check_values(body)
    record = {"created": now_utc()}
    _apply(record, body)
    tx.set(keys.user(username), record)
    return record


def create_user_with_hash(tx, username: str, pwhash: str | None) -> dict:
    """Create a user directly with a password hash (server initialisation, import)."""
    check_name("user", username)
    record = {"created": now_utc()}
    if pwhash:
        record["pwhash"] = pwhash
    tx.set(keys.user(username), record)
    return record


def modify_user(tx, username: str, body: Mapping[str, Any]) -> bool:
    """Apply a PATCH body: writable keys are set, falsy values remove them.

    Other keys are ignored, as devpi-client sends back the whole user record.
    :returns: whether the password was changed.
    """
    record = dict(require_user(tx, username))
    changes = {k: v for k, v in body.items() if k in WRITABLE_KEYS}
    if not changes.get("password"):
        changes.pop("password", None)  # an empty password in a PATCH changes nothing
    _check_values(changes)
    before = dict(record)
    _apply(record, changes)
    if record != before:
        record["modified"] = now_utc()
        tx.set(keys.user(username), record)
    return bool(changes.get("password"))


def upgrade_legacy_password(tx, username: str, record: dict | None, password: str) -> dict | None:
    """After a successful login, store an imported devpi sha256 hash as argon2 (when the
    password matched that hash, not only an auth plugin); return the record as it is now."""
    pwhash = record.get("pwhash") if record else None
    if not is_legacy(pwhash) or not tx.write or not verify_password(pwhash, password):
        return record
    record = {**record, "pwhash": hash_password(password)}
    tx.set(keys.user(username), record)
    return record


def _apply(record: dict, changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        if key == "password":
            record["pwhash"] = hash_password(value)
        elif value:
            record[key] = value
        else:
            record.pop(key, None)


def delete_user(tx, username: str) -> None:
    """Delete a user and its indexes; refused for root and owners of non-volatile indexes."""
    require_user(tx, username)
    if username == "root":
        raise Forbidden("root user can not be deleted")
    indexes = user_indexes(tx, username)
    fixed = sorted(name for name, config in indexes.items() if not config.get("volatile", True))
    if fixed:
        raise Forbidden(f"user {username!r} has non-volatile index: {', '.join(fixed)}")
    for name in indexes:
        remove_index_records(tx, username, name)
    tx.delete(keys.user(username))
