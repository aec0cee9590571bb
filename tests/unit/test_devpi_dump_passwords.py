"""devpi users' passwords: argon2 kept, pre-4.2 salted sha256 hashes verified and upgraded."""

from __future__ import annotations

import hashlib

import pytest
from tests.unit.test_devpi_dump import DevpiDump

from cheesecellar.auth.passwords import is_legacy
from cheesecellar.auth.passwords import legacy_pwhash
from cheesecellar.auth.passwords import verify_password
from cheesecellar.model import keys
from cheesecellar.model.users import upgrade_legacy_password
from cheesecellar.storage_memory import MemoryStorage

SALT = "q0Lr9bXvOxVhK0d7Zq0V5g=="
PASSWORD = "grüße, alice"


def devpi_legacy_hash(salt: str, password: str) -> str:
    """What devpi-server before 4.2 stored as ``pwhash`` next to ``pwsalt``."""
    return hashlib.sha256(salt.encode("ascii") + password.encode("utf-8")).hexdigest()


@pytest.fixture
def dump(tmp_path) -> DevpiDump:
    return DevpiDump(tmp_path / "export")


def test_a_legacy_hash_verifies_the_password_it_was_made_from():
    pwhash = legacy_pwhash(SALT, devpi_legacy_hash(SALT, PASSWORD).upper())
    assert is_legacy(pwhash)
    assert verify_password(pwhash, PASSWORD)
    assert not verify_password(pwhash, "grüße, bob")
    assert not verify_password(pwhash, "")


def test_a_legacy_user_is_imported_with_a_working_password(dump):
    dump.data["users"]["old"] = {
        "username": "old",
        "pwsalt": SALT,
        "pwhash": devpi_legacy_hash(SALT, PASSWORD),
        "email": "old@example.com",
    }
    read = dump.read()
    user = read.document["users"]["old"]
    assert "pwsalt" not in user and "username" not in user
    assert user["created"] == "1970-01-01T00:00:00Z"  # devpi's import does the same
    assert user["email"] == "old@example.com"
    assert verify_password(user["pwhash"], PASSWORD)
    assert read.warnings == []


@pytest.mark.parametrize(
    "record",
    [
        {"pwhash": "$pbkdf2-sha256$29000$abc$def"},
        {"pwhash": "not-hex", "pwsalt": SALT},
        {"pwhash": 42},
    ],
)
def test_a_hash_of_an_unknown_kind_is_dropped_with_a_warning(dump, record):
    dump.data["users"]["odd"] = record
    read = dump.read()
    assert "pwhash" not in read.document["users"]["odd"]
    (warning,) = read.warnings
    assert warning.startswith("user odd: its password hash is of a kind cheesecellar does not")


def test_a_user_without_a_password_stays_without_one(dump):
    dump.data["users"]["plugin-user"] = {"email": "p@example.com", "created": "2020"}
    read = dump.read()
    assert read.document["users"]["plugin-user"] == {"email": "p@example.com", "created": "2020"}
    assert read.warnings == []


@pytest.fixture
def storage():
    storage = MemoryStorage()
    yield storage
    storage.close()


def stored_legacy_user(storage) -> dict:
    record = {"pwhash": legacy_pwhash(SALT, devpi_legacy_hash(SALT, PASSWORD))}
    with storage.transaction(write=True) as tx:
        tx.set(keys.user("old"), record)
    return record


def test_a_login_turns_a_legacy_hash_into_argon2(storage):
    record = stored_legacy_user(storage)
    with storage.transaction(write=True) as tx:
        upgraded = upgrade_legacy_password(tx, "old", record, PASSWORD)
    assert upgraded["pwhash"].startswith("$argon2id$")
    with storage.transaction() as tx:
        assert tx.get(keys.user("old")) == upgraded
    assert verify_password(upgraded["pwhash"], PASSWORD)


def test_no_upgrade_without_the_matching_password_or_a_write(storage):
    record = stored_legacy_user(storage)
    with storage.transaction(write=True) as tx:
        # an auth plugin may accept another password; the local hash stays as it is
        assert upgrade_legacy_password(tx, "old", record, "other") == record
    with storage.transaction() as tx:
        assert upgrade_legacy_password(tx, "old", record, PASSWORD) == record
    with storage.transaction() as tx:
        assert tx.get(keys.user("old")) == record
    argon2 = {"pwhash": "$argon2id$v=19$m=65536,t=3,p=4$abc$def"}
    with storage.transaction(write=True) as tx:
        assert upgrade_legacy_password(tx, "old", argon2, PASSWORD) is argon2
        assert upgrade_legacy_password(tx, "nobody", None, PASSWORD) is None
