"""The trigger index options: plugin keys given as ConfigKey, their checks, and masking."""

from __future__ import annotations

import pytest

from cheesecellar import hookimpl
from cheesecellar.errors import BadRequest
from cheesecellar.model.indexes import create_index
from cheesecellar.model.indexes import modify_index
from cheesecellar.model.indextypes import ConfigKey
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.model.indextypes import to_int
from cheesecellar.model.users import create_user_with_hash
from cheesecellar.plugins import make_plugin_manager
from cheesecellar.storage_memory import MemoryStorage
from cheesecellar_jenkins.ixconfig import mask_config
from cheesecellar_jenkins.ixconfig import mask_url
from cheesecellar_jenkins.ixconfig import split_credentials
from cheesecellar_jenkins.ixconfig import to_jenkins_url
from cheesecellar_jenkins.ixconfig import to_webhook_urls

JENKINS = "https://bot:s3cret@jenkins.example.com/job/{pkgname}"


@pytest.fixture(scope="module")
def types():
    return IndexTypeRegistry(make_plugin_manager(entry_points=False))


@pytest.fixture
def tx():
    storage = MemoryStorage()
    with storage.transaction(write=True) as tx:
        create_user_with_hash(tx, "alice", None)
        yield tx
    storage.close()


# --- a plugin key given as a ConfigKey (the core's cellar_indexconfig_defaults) ----------


class CheckedKey:
    @hookimpl
    def cellar_indexconfig_defaults(self, index_type):
        if index_type == "stage":
            return {"ci_jobs": ConfigKey("any name", to_int), "ci_level": ConfigKey("x", to_int, 3)}
        return None


def test_a_config_key_brings_its_converter_and_its_default(tx):
    types = IndexTypeRegistry(make_plugin_manager(entry_points=False, extra=[CheckedKey()]))
    keys = types.keys("stage")
    assert keys["ci_jobs"].name == "ci_jobs"
    assert not keys["ci_jobs"].has_default
    config = create_index(tx, types, "alice", "dev", {})
    assert "ci_jobs" not in config  # absent until set
    assert config["ci_level"] == 3
    with pytest.raises(BadRequest, match="'ci_jobs' option must be an integer"):
        create_index(tx, types, "alice", "bad", {"ci_jobs": "many"})
    assert modify_index(tx, types, "alice", "dev", ["ci_jobs=7"])["ci_jobs"] == 7
    assert "ci_jobs" not in modify_index(tx, types, "alice", "dev", ["ci_jobs-="])
    with pytest.raises(BadRequest, match="Default values can't be removed"):
        modify_index(tx, types, "alice", "dev", ["ci_level-="])


# --- the two options on a real stage ------------------------------------------------------


def test_new_stage_indexes_have_no_trigger_keys(tx, types):
    config = create_index(tx, types, "alice", "dev", {})
    assert "uploadtrigger_jenkins" not in config
    assert "webhook_urls" not in config


def test_options_are_set_and_removed_with_operations(tx, types):
    create_index(tx, types, "alice", "dev", {})
    ops = [f"uploadtrigger_jenkins={JENKINS}", "webhook_urls=http://a.example/h, https://b.example"]
    config = modify_index(tx, types, "alice", "dev", ops)
    assert config["uploadtrigger_jenkins"] == JENKINS
    assert config["webhook_urls"] == ["http://a.example/h", "https://b.example"]
    config = modify_index(tx, types, "alice", "dev", ["webhook_urls+=https://c.example:8443/x"])
    assert config["webhook_urls"][-1] == "https://c.example:8443/x"
    config = modify_index(tx, types, "alice", "dev", ["uploadtrigger_jenkins-=", "webhook_urls-="])
    assert "uploadtrigger_jenkins" not in config
    assert "webhook_urls" not in config


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://jenkins/job/x", "must be an http:// or https:// URL"),
        ("jenkins.example.com/job/x", "must be an http:// or https:// URL"),
        ("https://jenkins.example.com/job/my job", "is not a URL (no spaces"),
        ("https://jenkins.example.com:port/job", "is not a valid URL"),
        ("https:///job/x", "needs a host name"),
        ("https://jenkins.example.com/job/x#frag", "needs a host name and no #fragment"),
        ("https://jenkins.example.com/job/{name}", "unknown placeholder {name}"),
        ("https://x.example/" + "a" * 2000, "at most 2000 characters"),
        (42, "must be an http:// or https:// URL"),
        (["https://jenkins.example.com"], "must be an http:// or https:// URL"),
    ],
)
def test_bad_jenkins_urls_are_refused(value, message):
    with pytest.raises(BadRequest, match=message.replace("{", r"\{").replace("(", r"\(")):
        to_jenkins_url("uploadtrigger_jenkins", value)


def test_an_empty_jenkins_url_means_no_trigger():
    assert to_jenkins_url("uploadtrigger_jenkins", "") is None
    assert to_jenkins_url("uploadtrigger_jenkins", None) is None
    assert to_jenkins_url("uploadtrigger_jenkins", " https://j.example/job/x ") == (
        "https://j.example/job/x"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"url": "https://x.example"}, "must be a list of http:// or https:// URLs"),
        ([1, 2], "must be a list of http:// or https:// URLs"),
        ("https://a.example,ftp://b.example", "must be an http:// or https:// URL"),
        (["https://a.example/{pkgname}"], "no placeholders are replaced"),
        (",".join(f"https://h{n}.example" for n in range(11)), "at most 10 URLs"),
    ],
)
def test_bad_webhook_urls_are_refused(value, message):
    with pytest.raises(BadRequest, match=message):
        to_webhook_urls("webhook_urls", value)


def test_an_error_never_shows_the_password():
    with pytest.raises(BadRequest) as excinfo:
        to_jenkins_url("uploadtrigger_jenkins", "https://bot:s3cret@jenkins.example.com/a b")
    assert "s3cret" not in excinfo.value.message
    assert "bot:****@" in excinfo.value.message


# --- masking and credentials ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (JENKINS, "https://bot:****@jenkins.example.com/job/{pkgname}"),
        ("https://tokenonly@hooks.example/x", "https://****@hooks.example/x"),
        ("https://j.example/job/x/build?token=abc&delay=0", "https://j.example/job/x/build?token=****&delay=0"),
        ("https://hooks.example/in?team=a", "https://hooks.example/in?team=a"),
        ("https://hooks.example/in", "https://hooks.example/in"),
    ],
)  # fmt: skip
def test_mask_url(url, shown):
    assert mask_url(url) == shown


def test_split_credentials():
    assert split_credentials(JENKINS) == (
        "https://jenkins.example.com/job/{pkgname}",
        ("bot", "s3cret"),
    )
    assert split_credentials("https://tok@h.example/x") == ("https://h.example/x", ("tok", ""))
    assert split_credentials("https://h.example/x") == ("https://h.example/x", None)


def test_readers_see_masked_urls_owners_see_them_whole(tx, types):
    config = create_index(
        tx, types, "alice", "dev",
        {"uploadtrigger_jenkins": JENKINS, "webhook_urls": ["https://u:p@hooks.example/in"]},
    )  # fmt: skip
    stage = types.get("stage")
    assert stage.public_config(config, privileged=True) == config
    shown = stage.public_config(config, privileged=False)
    assert shown["uploadtrigger_jenkins"] == "https://bot:****@jenkins.example.com/job/{pkgname}"
    assert shown["webhook_urls"] == ["https://u:****@hooks.example/in"]
    assert shown == mask_config(config)
    assert config["uploadtrigger_jenkins"] == JENKINS  # the stored config is untouched
