"""Users: creation with an argon2 hash, the public view, PATCH, deletion with indexes."""

from __future__ import annotations

import pytest

from cheesecellar.auth.passwords import verify_password
from cheesecellar.errors import BadRequest
from cheesecellar.errors import CellarError
from cheesecellar.errors import Conflict
from cheesecellar.errors import Forbidden
from cheesecellar.errors import NotFound
from cheesecellar.model import keys
from cheesecellar.model.indexes import create_index
from cheesecellar.model.users import create_user
from cheesecellar.model.users import delete_user
from cheesecellar.model.users import get_user
from cheesecellar.model.users import list_usernames
from cheesecellar.model.users import modify_user
from cheesecellar.model.users import public_userconfig


def error_of(func, *args) -> CellarError:
    with pytest.raises(CellarError) as excinfo:
        func(*args)
    return excinfo.value


class TestCreate:
    def test_password_is_stored_as_argon2_hash(self, tx):
        create_user(tx, "emilie", {"password": "s3cret", "email": "e@example.org"})
        record = get_user(tx, "emilie")
        assert "password" not in record
        assert record["pwhash"].startswith("$argon2id$")
        assert verify_password(record["pwhash"], "s3cret")
        assert not verify_password(record["pwhash"], "wrong")
        assert record["email"] == "e@example.org"
        assert record["created"].endswith("Z")

    def test_public_config_hides_the_hash_and_lists_indexes(self, tx, types):
        create_user(tx, "emilie", {"password": "s3cret", "title": "Emilie"})
        create_index(tx, types, "emilie", "dev", {})
        public = public_userconfig(tx, "emilie", get_user(tx, "emilie"))
        assert "pwhash" not in public
        assert "password" not in public
        assert public["username"] == "emilie"
        assert public["title"] == "Emilie"
        assert list(public["indexes"]) == ["dev"]
        assert public["indexes"]["dev"]["acl_upload"] == ["emilie"]

    def test_unknown_keys_are_rejected(self, tx):
        error = error_of(create_user, tx, "emilie", {"password": "x", "foo": 1, "bar": 2})
        assert isinstance(error, BadRequest)
        assert error.message == "Unknown keys in user config: bar, foo"
        assert get_user(tx, "emilie") is None

    def test_password_is_required(self, tx):
        error = error_of(create_user, tx, "emilie", {"email": "e@example.org"})
        assert error.message == "password needs to be set"

    def test_empty_password_is_allowed(self, tx):
        create_user(tx, "emilie", {"password": ""})
        assert get_user(tx, "emilie") is not None

    def test_existing_user_conflicts(self, tx):
        error = error_of(create_user, tx, "alice", {"password": "x"})
        assert isinstance(error, Conflict)
        assert error.message == "user already exists"

    def test_bad_name_and_values(self, tx):
        error = error_of(create_user, tx, "ca rl", {"password": "x"})
        assert error.message.startswith("username 'ca rl' contains characters")
        assert error_of(create_user, tx, "emilie", {"password": 42}).status == 400
        assert error_of(create_user, tx, "emilie", {"password": "x", "pwhash": "md5"}).status == 400

    def test_listing(self, tx):
        create_user(tx, "emilie", {"password": "x"})
        assert list_usernames(tx) == ["alice", "emilie", "root"]


class TestModify:
    def test_patch_sets_removes_and_ignores_unknown_keys(self, tx):
        create_user(tx, "emilie", {"password": "x", "email": "old@example.org", "title": "T"})
        changed_password = modify_user(
            tx,
            "emilie",
            {"email": "new@example.org", "title": "", "username": "eve", "indexes": {}, "x": 1},
        )
        record = get_user(tx, "emilie")
        assert changed_password is False
        assert record["email"] == "new@example.org"
        assert "title" not in record
        assert not {"username", "indexes", "x"} & set(record)
        assert record["modified"].endswith("Z")

    def test_patch_password(self, tx):
        create_user(tx, "emilie", {"password": "old"})
        assert modify_user(tx, "emilie", {"password": "new"}) is True
        pwhash = get_user(tx, "emilie")["pwhash"]
        assert verify_password(pwhash, "new")
        assert not verify_password(pwhash, "old")

    def test_empty_password_in_patch_changes_nothing(self, storage):
        with storage.transaction(write=True) as tx:
            create_user(tx, "emilie", {"password": "old"})
        with storage.transaction(write=True) as tx:
            assert modify_user(tx, "emilie", {"password": "", "foo": "bar"}) is False
            assert modify_user(tx, "emilie", {}) is False
        assert storage.last_serial() == 0

    def test_unknown_user(self, tx):
        assert isinstance(error_of(modify_user, tx, "nobody", {}), NotFound)


class TestDelete:
    def test_root_cannot_be_deleted(self, tx):
        error = error_of(delete_user, tx, "root")
        assert isinstance(error, Forbidden)
        assert get_user(tx, "root") is not None

    def test_owner_of_a_non_volatile_index_cannot_be_deleted(self, tx, types):
        create_index(tx, types, "alice", "prod", {"volatile": False})
        create_index(tx, types, "alice", "dev", {})
        error = error_of(delete_user, tx, "alice")
        assert isinstance(error, Forbidden)
        assert error.message == "user 'alice' has non-volatile index: prod"
        assert tx.keys(keys.user_indexes_prefix("alice")) == ["index/alice/dev", "index/alice/prod"]

    def test_deleting_a_user_deletes_its_indexes_only(self, tx, types):
        tx.set(keys.user("alicex"), {})
        for owner in ("alice", "alicex"):
            create_index(tx, types, owner, "dev", {})
            tx.set(keys.project(f"{owner}/dev", "hello"), {})
        delete_user(tx, "alice")
        assert get_user(tx, "alice") is None
        assert tx.keys("index/") == ["index/alicex/dev"]
        assert tx.keys("project/") == ["project/alicex/dev/hello"]

    def test_unknown_user(self, tx):
        assert isinstance(error_of(delete_user, tx, "nobody"), NotFound)
