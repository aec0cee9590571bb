"""Indexes: creation with defaults, PUT validation, PATCH operations, deletion, sro."""

from __future__ import annotations

import pytest

from cheesecellar.errors import BadRequest
from cheesecellar.errors import CellarError
from cheesecellar.errors import Conflict
from cheesecellar.errors import Forbidden
from cheesecellar.errors import NotFound
from cheesecellar.model import keys
from cheesecellar.model.indexes import create_index
from cheesecellar.model.indexes import delete_index
from cheesecellar.model.indexes import get_index
from cheesecellar.model.indexes import modify_index
from cheesecellar.model.indexes import sro

STAGE_DEFAULTS = {
    "type": "stage",
    "volatile": True,
    "bases": [],
    "acl_upload": ["alice"],
    "acl_toxresult_upload": [":ANONYMOUS:"],
    "mirror_whitelist": [],
    "mirror_whitelist_inheritance": "intersection",
}


def error_of(func, *args) -> CellarError:
    with pytest.raises(CellarError) as excinfo:
        func(*args)
    return excinfo.value


@pytest.fixture
def dev(tx, types):
    """``alice/dev``, a stage with default configuration."""
    create_index(tx, types, "alice", "dev", {})
    return "dev"


def patch(tx, types, body, index="dev"):
    return modify_index(tx, types, "alice", index, body)


class TestCreate:
    def test_stage_defaults(self, tx, types):
        assert create_index(tx, types, "alice", "dev", {}) == STAGE_DEFAULTS
        assert get_index(tx, "alice", "dev") == STAGE_DEFAULTS

    def test_acl_upload_defaults_to_the_owner_not_the_creator(self, tx, types):
        config = create_index(tx, types, "root", "prod", {"volatile": "no"})
        assert config["acl_upload"] == ["root"]
        assert config["volatile"] is False

    def test_given_values_are_converted(self, tx, types, dev):
        config = create_index(
            tx,
            types,
            "alice",
            "prod",
            {"bases": "/alice/dev", "acl_upload": "alice,:anonymous:", "title": 42},
        )
        assert config["bases"] == ["alice/dev"]
        assert config["acl_upload"] == ["alice", ":ANONYMOUS:"]
        assert config["title"] == 42

    def test_mirror_stores_only_what_was_set(self, tx, types):
        body = {"type": "mirror", "mirror_url": "https://pypi.org/simple/", "bases": "x/y"}
        config = create_index(tx, types, "alice", "pypi", {**body, "acl_upload": "bob"})
        assert config == {
            "type": "mirror",
            "volatile": True,
            "mirror_url": "https://pypi.org/simple/",
        }

    def test_mirror_rejects_stage_only_keys(self, tx, types):
        body = {"type": "mirror", "mirror_whitelist_inheritance": "union"}
        error = error_of(create_index, tx, types, "alice", "pypi", body)
        assert error.message == (
            "indexconfig got unexpected keyword arguments: mirror_whitelist_inheritance=union"
        )

    def test_unknown_key(self, tx, types):
        error = error_of(create_index, tx, types, "alice", "dev", {"foo": "bar"})
        assert isinstance(error, BadRequest)
        assert error.message == "indexconfig got unexpected keyword arguments: foo=bar"
        assert get_index(tx, "alice", "dev") is None

    def test_derived_keys_are_dropped(self, tx, types):
        config = create_index(tx, types, "alice", "dev", {"projects": [], "name": "dev"})
        assert config == STAGE_DEFAULTS

    def test_existing_index_conflicts(self, tx, types, dev):
        error = error_of(create_index, tx, types, "alice", "dev", {})
        assert isinstance(error, Conflict)
        assert error.message == "index 'alice/dev' exists"

    def test_unknown_user(self, tx, types):
        assert isinstance(error_of(create_index, tx, types, "nobody", "dev", {}), NotFound)

    def test_bad_name_body_and_type(self, tx, types):
        assert "aren't allowed" in error_of(create_index, tx, types, "alice", "a b", {}).message
        assert error_of(create_index, tx, types, "alice", "dev", []).status == 400
        error = error_of(create_index, tx, types, "alice", "dev", {"type": "bogus"})
        assert error.message == "unknown index type 'bogus'"

    def test_unknown_base(self, tx, types):
        error = error_of(create_index, tx, types, "alice", "dev", {"bases": "root/nope"})
        assert error.status == 400
        assert error.message == "base index 'root/nope' does not exist"

    @pytest.mark.parametrize("base", ["root", "a/b/c", "/x/"])
    def test_malformed_base(self, tx, types, base):
        error = error_of(create_index, tx, types, "alice", "dev", {"bases": [base]})
        assert error.message.startswith("invalid base index spec")


class TestModify:
    def test_dict_merges(self, tx, types, dev):
        config = patch(tx, types, {"title": "Dev", "volatile": "false"})
        assert config == {**STAGE_DEFAULTS, "title": "Dev", "volatile": False}
        assert patch(tx, types, {"description": "d"})["title"] == "Dev"
        assert get_index(tx, "alice", "dev")["description"] == "d"

    def test_wrapped_get_reply_is_accepted(self, tx, types, dev):
        body = {"type": "indexconfig", "result": {**STAGE_DEFAULTS, "projects": [], "title": "T"}}
        assert patch(tx, types, body) == {**STAGE_DEFAULTS, "title": "T"}

    def test_unknown_key(self, tx, types, dev):
        error = error_of(patch, tx, types, {"foo": "bar"})
        assert error.message == "indexconfig got unexpected keyword arguments: foo=bar"
        error = error_of(patch, tx, types, ["foo=bar"])
        assert error.message == "indexconfig got unexpected keyword arguments: foo=bar"

    def test_type_cannot_change(self, tx, types, dev):
        for body in ({"type": "mirror"}, ["type=mirror"]):
            error = error_of(patch, tx, types, body)
            assert error.message == "the 'type' of an index can't be changed"
        assert get_index(tx, "alice", "dev")["type"] == "stage"

    def test_set_operation(self, tx, types, dev):
        config = patch(tx, types, ["acl_upload=alice,bob", "title=Dev", "volatile=False"])
        assert config["acl_upload"] == ["alice", "bob"]
        assert config["title"] == "Dev"
        assert config["volatile"] is False

    def test_add_operation(self, tx, types, dev):
        config = patch(
            tx, types, ["acl_upload+=bob", "acl_upload+=alice", "acl_upload+=:anonymous:"]
        )
        assert config["acl_upload"] == ["alice", "bob", ":ANONYMOUS:"]

    def test_remove_operation(self, tx, types, dev):
        patch(tx, types, ["acl_upload=alice,bob"])
        assert patch(tx, types, ["acl_upload-=alice"])["acl_upload"] == ["bob"]

    def test_removing_an_absent_value_is_400(self, tx, types, dev):
        error = error_of(patch, tx, types, ["acl_upload-=bob"])
        assert error.status == 400
        assert get_index(tx, "alice", "dev")["acl_upload"] == ["alice"]

    def test_drop_a_key_without_default(self, tx, types, dev):
        patch(tx, types, ["title=Dev"])
        config = patch(tx, types, ["title-="])
        assert "title" not in config
        assert get_index(tx, "alice", "dev") == STAGE_DEFAULTS

    def test_default_values_cannot_be_dropped(self, tx, types, dev):
        error = error_of(patch, tx, types, ["volatile-="])
        assert error.status == 400
        assert error.message == "Default values can't be removed."

    def test_add_to_an_unset_key_is_400(self, tx, types, dev):
        error = error_of(patch, tx, types, ["title+=x"])
        assert isinstance(error, BadRequest)
        error = error_of(patch, tx, types, ["title-=x"])
        assert isinstance(error, BadRequest)

    def test_add_to_a_non_list_is_400(self, tx, types, dev):
        patch(tx, types, ["title=Dev"])
        assert isinstance(error_of(patch, tx, types, ["title+=x"]), BadRequest)

    def test_operations_apply_all_or_nothing(self, tx, types, dev):
        error_of(patch, tx, types, ["title=Dev", "acl_upload-=nobody"])
        assert get_index(tx, "alice", "dev") == STAGE_DEFAULTS

    def test_bare_key_sets_the_empty_string(self, tx, types, dev):
        assert patch(tx, types, ["title"])["title"] == ""

    @pytest.mark.parametrize("body", ["title=x", 42, None, [42], ["=x"]])
    def test_malformed_bodies(self, tx, types, dev, body):
        assert isinstance(error_of(patch, tx, types, body), BadRequest)

    def test_ignored_mirror_keys(self, tx, types):
        create_index(tx, types, "alice", "pypi", {"type": "mirror"})
        config = patch(tx, types, ["bases=alice/x", "mirror_cache_expiry=60"], index="pypi")
        assert config == {"type": "mirror", "volatile": True, "mirror_cache_expiry": 60}

    def test_unknown_index(self, tx, types):
        assert isinstance(error_of(patch, tx, types, {}, "nope"), NotFound)

    def test_no_change_stages_nothing(self, storage, types):
        with storage.transaction(write=True) as tx:
            tx.set(keys.user("alice"), {})
            create_index(tx, types, "alice", "dev", {})
        with storage.transaction(write=True) as tx:
            patch(tx, types, ["acl_upload+=alice", "volatile=true"])
            patch(tx, types, {})
        assert storage.last_serial() == 0

    def test_stale_keys_of_removed_plugins_are_kept(self, tx, types, dev):
        tx.set(keys.index("alice", "dev"), {**STAGE_DEFAULTS, "old_plugin_key": 1})
        assert patch(tx, types, ["title=x"])["old_plugin_key"] == 1


class TestBases:
    def test_cyclic_bases_are_rejected(self, tx, types):
        create_index(tx, types, "alice", "a", {})
        create_index(tx, types, "alice", "b", {"bases": "alice/a"})
        create_index(tx, types, "alice", "c", {"bases": "alice/b"})
        error = error_of(patch, tx, types, ["bases=alice/c"], "a")
        assert error.status == 400
        assert "cycle" in error.message
        assert get_index(tx, "alice", "a")["bases"] == []

    def test_own_base_is_rejected(self, tx, types, dev):
        error = error_of(patch, tx, types, ["bases=alice/dev"])
        assert error.status == 400

    def test_sro_is_breadth_first_with_mirrors_last(self, tx, types):
        create_index(tx, types, "root", "pypi", {"type": "mirror"})
        create_index(tx, types, "root", "other", {"type": "mirror"})
        create_index(tx, types, "root", "base", {"bases": "root/other"})
        create_index(tx, types, "alice", "left", {"bases": "root/pypi,root/base"})
        create_index(tx, types, "alice", "right", {"bases": "root/base"})
        create_index(tx, types, "alice", "dev", {"bases": "alice/left,alice/right,root/pypi"})
        names = [name for name, _config in sro(tx, types, "alice/dev")]
        assert names == [
            "alice/dev",
            "alice/left",
            "alice/right",
            "root/base",
            "root/pypi",
            "root/other",
        ]

    def test_sro_skips_deleted_bases(self, tx, types):
        create_index(tx, types, "alice", "base", {})
        create_index(tx, types, "alice", "dev", {"bases": "alice/base"})
        delete_index(tx, "alice", "base")
        assert [name for name, _config in sro(tx, types, "alice/dev")] == ["alice/dev"]


class TestDelete:
    def test_delete_removes_config_and_projects(self, tx, types, dev):
        create_index(tx, types, "alice", "devx", {})
        tx.set(keys.project("alice/dev", "hello"), {})
        tx.set(keys.project("alice/devx", "hello"), {})
        delete_index(tx, "alice", "dev")
        assert get_index(tx, "alice", "dev") is None
        assert tx.keys("project/alice/dev/") == []
        assert tx.keys("project/alice/devx/") == ["project/alice/devx/hello"]
        assert get_index(tx, "alice", "devx") is not None

    def test_non_volatile_index_cannot_be_deleted(self, tx, types):
        create_index(tx, types, "alice", "prod", {"volatile": False})
        error = error_of(delete_index, tx, "alice", "prod")
        assert isinstance(error, Forbidden)
        assert error.message == "index alice/prod non-volatile, cannot delete"

    def test_unknown_index(self, tx):
        assert isinstance(error_of(delete_index, tx, "alice", "nope"), NotFound)
