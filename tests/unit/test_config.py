"""Settings resolution: defaults < config file < CELLAR_* environment < command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cheesecellar import hookimpl
from cheesecellar.config import ConfigError
from cheesecellar.config import add_server_options
from cheesecellar.config import parse_storage
from cheesecellar.config import resolve_settings
from cheesecellar.plugins import make_plugin_manager


class SearchOptions:
    """A plugin that declares two options of its own."""

    @hookimpl
    def cellar_add_options(self, parser):
        parser.add_argument("--search-engine", default="whoosh", help="search backend")
        parser.add_argument("--search-limit", type=int, default=10, help="hits per page")


def resolve(argv=(), environ=None, configfile=None):
    """Parse ``argv`` as ``cellar serve`` would and resolve with an explicit environment."""
    pm = make_plugin_manager(extra=[SearchOptions()], entry_points=False)
    parser = argparse.ArgumentParser(prog="cellar serve")
    options = add_server_options(parser, pm)
    argv = list(argv)
    if configfile is not None:
        argv += ["--configfile", str(configfile)]
    return resolve_settings(options, parser.parse_args(argv), environ or {})


@pytest.fixture
def configfile(tmp_path):
    """Write a TOML config file from text and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "cellar.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


FILE_VALUES = """
[cellar]
port = 4000
offline_mode = true
serverdir = "/srv/from-file"
role = "primary"
search-limit = 20
"""


def test_defaults_without_file_env_or_arguments():
    settings = resolve()
    assert settings.port == 3141
    assert settings.host == "127.0.0.1"
    assert settings.offline_mode is False
    assert settings.role == "standalone"
    assert settings.storage_backend == ("fs", {})
    assert settings.plugin("search_engine") == "whoosh"
    assert settings.plugin("search_limit") == 10
    assert settings.plugin("no_such_option", "fallback") == "fallback"


def test_config_file_overrides_defaults(configfile):
    settings = resolve(configfile=configfile(FILE_VALUES))
    assert settings.port == 4000
    assert settings.offline_mode is True
    assert settings.serverdir == Path("/srv/from-file")
    assert settings.role == "primary"
    assert settings.plugin("search_limit") == 20
    assert settings.plugin("search_engine") == "whoosh"


def test_environment_overrides_config_file(configfile):
    environ = {
        "CELLAR_PORT": "5000",
        "CELLAR_OFFLINE_MODE": "no",
        "CELLAR_SERVERDIR": "/srv/from-env",
        "CELLAR_ROLE": "standalone",
        "CELLAR_SEARCH_LIMIT": "30",
    }
    settings = resolve(environ=environ, configfile=configfile(FILE_VALUES))
    assert settings.port == 5000
    assert settings.offline_mode is False
    assert settings.serverdir == Path("/srv/from-env")
    assert settings.role == "standalone"
    assert settings.plugin("search_limit") == 30


def test_command_line_overrides_environment(configfile):
    environ = {
        "CELLAR_PORT": "5000",
        "CELLAR_SERVERDIR": "/srv/from-env",
        "CELLAR_ROLE": "standalone",
        "CELLAR_SEARCH_ENGINE": "null",
    }
    argv = ["--port", "6000", "--serverdir", "/srv/from-cli", "--role", "primary"]
    argv += ["--search-engine", "elastic", "--offline-mode"]
    settings = resolve(argv, environ=environ, configfile=configfile(FILE_VALUES))
    assert settings.port == 6000
    assert settings.serverdir == Path("/srv/from-cli")
    assert settings.role == "primary"
    assert settings.offline_mode is True
    assert settings.plugin("search_engine") == "elastic"
    assert isinstance(settings.port, int)


def test_config_file_named_in_the_environment(configfile):
    path = configfile("[cellar]\nport = 4100\n")
    settings = resolve(environ={"CELLAR_CONFIGFILE": str(path)})
    assert settings.port == 4100


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_boolean_environment_values(value):
    assert resolve(environ={"CELLAR_OFFLINE_MODE": value}).offline_mode is True


def test_unknown_key_in_config_file_is_rejected(configfile):
    path = configfile("[cellar]\nport = 4000\nshiny_feature = 1\n")
    with pytest.raises(ConfigError, match="unknown settings shiny_feature") as info:
        resolve(configfile=path)
    assert str(path) in str(info.value)


def test_invalid_toml_names_the_file(configfile):
    path = configfile("[cellar]\nport = = 4000\n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        resolve(configfile=path)
    assert str(path) in str(info.value)


def test_missing_config_file_is_named(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        resolve(configfile=path)
    assert str(path) in str(info.value)


def test_cellar_section_must_be_a_table(configfile):
    with pytest.raises(ConfigError, match="must be a table"):
        resolve(configfile=configfile('cellar = "yes"\n'))


def test_other_tables_in_the_config_file_are_ignored(configfile):
    settings = resolve(configfile=configfile("[tool]\nx = 1\n[cellar]\nport = 4200\n"))
    assert settings.port == 4200


def test_bad_integer_in_environment():
    with pytest.raises(ConfigError, match="port"):
        resolve(environ={"CELLAR_PORT": "abc"})


def test_bad_integer_in_config_file(configfile):
    with pytest.raises(ConfigError, match="port"):
        resolve(configfile=configfile('[cellar]\nport = "abc"\n'))


def test_bad_boolean_in_environment():
    with pytest.raises(ConfigError, match="boolean"):
        resolve(environ={"CELLAR_OFFLINE_MODE": "maybe"})


def test_unknown_role_from_environment():
    with pytest.raises(ConfigError, match="--role must be one of"):
        resolve(environ={"CELLAR_ROLE": "leader"})


def test_unknown_role_on_command_line_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        resolve(["--role", "leader"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_replica_needs_primary_url():
    with pytest.raises(ConfigError, match="--primary-url"):
        resolve(["--role", "replica"])


def test_replica_with_primary_url_from_environment():
    environ = {"CELLAR_PRIMARY_URL": "http://primary.example:3141"}
    settings = resolve(["--role", "replica"], environ=environ)
    assert settings.role == "replica"
    assert settings.primary_url == "http://primary.example:3141"


def test_primary_url_must_be_http():
    with pytest.raises(ConfigError, match="http"):
        resolve(["--role", "replica", "--primary-url", "ftp://primary"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "--port"),
        (["--threads", "0"], "--threads"),
        (["--mirror-cache-expiry", "-1"], "--mirror-cache-expiry"),
        (["--outside-url", "example.org"], "--outside-url"),
    ],
)
def test_out_of_range_values_are_refused(argv, message):
    with pytest.raises(ConfigError, match=message):
        resolve(argv)


def test_storage_option_with_settings():
    settings = resolve(["--storage", "fs:path=/data,sync=full"])
    assert settings.storage_backend == ("fs", {"path": "/data", "sync": "full"})


def test_storage_option_from_environment():
    settings = resolve(environ={"CELLAR_STORAGE": "memory"})
    assert settings.storage_backend == ("memory", {})


def test_storage_option_without_equals_is_refused():
    with pytest.raises(ConfigError, match="key=value"):
        resolve(["--storage", "fs:fast"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fs", ("fs", {})),
        ("fs:", ("fs", {})),
        (" fs : a = 1 , b=2 ", ("fs", {"a": "1", "b": "2"})),
        ("pg:dsn=host=db", ("pg", {"dsn": "host=db"})),
    ],
)
def test_parse_storage(text, expected):
    assert parse_storage(text) == expected


def test_restrict_modify_principals():
    settings = resolve(["--restrict-modify", "root, :admins ,"])
    assert settings.restrict_modify_principals == frozenset({"root", ":admins"})
    assert resolve().restrict_modify_principals is None


def test_settings_are_frozen():
    settings = resolve()
    with pytest.raises(AttributeError):
        settings.port = 1
    with pytest.raises(TypeError):
        settings.extra["search_limit"] = 1


def test_disable_plugin_in_config_file_is_refused(configfile):
    # Plugins are chosen before the file is read; a silently ignored key would mislead.
    path = configfile('[cellar]\ndisable_plugin = ["cheesecellar_mirror"]\n')
    with pytest.raises(ConfigError, match="--disable-plugin"):
        resolve(configfile=path)
