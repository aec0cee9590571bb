"""Index types: input converters, key defaults, plugin keys through the hook."""

from __future__ import annotations

import pytest

from cheesecellar import hookimpl
from cheesecellar.errors import BadRequest
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.model.indextypes import to_acl
from cheesecellar.model.indextypes import to_bases
from cheesecellar.model.indextypes import to_bool
from cheesecellar.model.indextypes import to_choice
from cheesecellar.model.indextypes import to_int
from cheesecellar.model.indextypes import to_list
from cheesecellar.model.indextypes import to_url
from cheesecellar.model.indextypes import to_whitelist
from cheesecellar.plugins import make_plugin_manager


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("yes", True),
        ("Yes", True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("NO", False),
    ],
)
def test_to_bool_accepts(value, expected):
    assert to_bool("volatile", value) is expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("maybe", "Unknown boolean value 'maybe'."),
        (0, "Unknown boolean value 0."),
        ("", "Unknown boolean value ''."),
        (None, "Unknown boolean value None."),
    ],
)
def test_to_bool_rejects(value, message):
    with pytest.raises(BadRequest) as excinfo:
        to_bool("volatile", value)
    assert excinfo.value.message == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a,b", ["a", "b"]),
        (" a , b ,, a ", ["a", "b"]),
        ("", []),
        (["a", "b", "a"], ["a", "b"]),
        (("x",), ["x"]),
        ([], []),
    ],
)
def test_to_list(value, expected):
    assert to_list("acl_upload", value) == expected


@pytest.mark.parametrize("value", [42, None, {"a": 1}, ["a", 1]])
def test_to_list_rejects(value):
    with pytest.raises(BadRequest):
        to_list("acl_upload", value)


def test_to_list_rejects_a_number_with_devpis_message():
    with pytest.raises(BadRequest) as excinfo:
        to_list("bases", 42)
    assert excinfo.value.message == "Unknown list value 42."


def test_to_acl_upper_cases_the_special_principals_only():
    assert to_acl("acl_upload", "alice,:anonymous:,:Authenticated:,Bob") == [
        "alice",
        ":ANONYMOUS:",
        ":AUTHENTICATED:",
        "Bob",
    ]


def test_to_bases_strips_slashes():
    assert to_bases("bases", "/alice/prod, root/pypi/") == ["alice/prod", "root/pypi"]
    assert to_bases("bases", ["/emilie/dev"]) == ["emilie/dev"]
    assert to_bases("bases", "") == []


def test_to_whitelist_normalises_and_keeps_star():
    assert to_whitelist("mirror_whitelist", "Hello_World,*,zope.Interface") == [
        "hello-world",
        "*",
        "zope-interface",
    ]


def test_to_choice():
    convert = to_choice("intersection", "union")
    assert convert("mirror_whitelist_inheritance", " Union ") == "union"
    with pytest.raises(BadRequest, match="must be one of intersection, union"):
        convert("mirror_whitelist_inheritance", "both")


def test_to_url():
    assert to_url("mirror_url", "https://pypi.org/simple/") == "https://pypi.org/simple/"
    with pytest.raises(BadRequest) as excinfo:
        to_url("mirror_url", "ftp://example.org/")
    assert excinfo.value.message == "'mirror_url' option must be a URL."


def test_to_int():
    assert to_int("mirror_cache_expiry", "60") == 60
    for bad in ("soon", True, -1, None):
        with pytest.raises(BadRequest, match="mirror_cache_expiry"):
            to_int("mirror_cache_expiry", bad)


def test_registry_knows_stage_and_mirror(types):
    assert types.names() == ["mirror", "stage"]
    assert types.get("mirror").is_mirror
    assert not types.get("stage").is_mirror
    with pytest.raises(BadRequest, match="unknown index type 'nope'"):
        types.get("nope")
    stage_keys = types.keys("stage")
    assert stage_keys["acl_upload"].default_for("emilie") == ["emilie"]
    assert stage_keys["volatile"].default_for("emilie") is True
    assert not stage_keys["title"].has_default


class ExtraKeys:
    @hookimpl
    def cellar_indexconfig_defaults(self, index_type):
        if index_type == "stage":
            return {"jenkins_notify": False, "jenkins_jobs": [], "jenkins_url": ""}
        return None


def test_plugin_keys_are_converted_by_their_default():
    types = IndexTypeRegistry(make_plugin_manager(entry_points=False, extra=[ExtraKeys()]))
    keys = types.keys("stage")
    assert keys["jenkins_notify"].convert("jenkins_notify", "yes") is True
    assert keys["jenkins_jobs"].convert("jenkins_jobs", "a,b") == ["a", "b"]
    assert keys["jenkins_url"].convert("jenkins_url", 42) == 42
    assert "jenkins_notify" not in types.keys("mirror")


class ClashingKey:
    @hookimpl
    def cellar_indexconfig_defaults(self, index_type):
        return {"volatile": False}


def test_a_plugin_cannot_redefine_a_key():
    with pytest.raises(ValueError, match="'volatile' defined twice"):
        IndexTypeRegistry(make_plugin_manager(entry_points=False, extra=[ClashingKey()]))
