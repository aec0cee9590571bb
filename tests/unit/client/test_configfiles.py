"""pip.conf and uv.toml edits of ``cellar use --set-cfg``: settings, comments and layout kept."""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

import pytest

from cheesecellar_client import inifile
from cheesecellar_client import installercfg
from cheesecellar_client import uvfile
from cheesecellar_client.http import ClientError

URL = "http://10.0.0.5:3141/alice/dev/+simple/"
UV_PATH = Path("uv.toml")


def set_url(old: str | None) -> str:
    return URL


def parsed(text: str) -> configparser.RawConfigParser:
    # pip reads its files with a RawConfigParser: duplicates would be an error there.
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    return parser


def test_ini_new_file():
    text = inifile.update_section("", "global", {"index-url": set_url})
    assert text == f"[global]\nindex-url = {URL}\n"


def test_ini_replaces_underscore_spelling_and_continuation_lines():
    before = (
        "[global]\nindex_url =\n    http://old/simple\ntimeout = 60\n[other]\nindex-url = keep\n"
    )
    text = inifile.update_section(before, "global", {"index-url": set_url})
    assert parsed(text).get("global", "index-url") == URL
    assert parsed(text).get("global", "timeout") == "60"
    assert parsed(text).get("other", "index-url") == "keep"
    assert "http://old" not in text


def test_ini_adds_missing_keys_at_the_end_of_the_section():
    before = "# mine\n[global]\ntimeout = 60\n\n; comment\n[install]\nuser = no\n"
    text = inifile.update_section(before, "global", {"index-url": set_url})
    assert text.startswith(f"# mine\n[global]\ntimeout = 60\nindex-url = {URL}\n\n; comment\n")
    assert inifile.read_option(text, "global", "index_url") == URL


def test_trusted_host_is_added_once(monkeypatch, tmp_path):
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "pip.conf"))
    (tmp_path / "pip.conf").write_text("[global]\ntrusted-host = pypi.corp\n")
    path, text = installercfg.pip_config_update(URL)
    path.write_text(text)
    _, again = installercfg.pip_config_update(URL)
    assert parsed(again).get("global", "trusted-host") == "pypi.corp 10.0.0.5:3141"


def test_https_needs_no_trusted_host():
    assert installercfg.trusted_host("https://pkgs.example.org/a/b/+simple/") is None
    assert installercfg.trusted_host(URL) == "10.0.0.5:3141"


def test_uv_index_table_is_written_and_replaced():
    text = uvfile.set_default_index('native-tls = true\n\n[pip]\nindex-url = "x"\n', URL, UV_PATH)
    data = tomllib.loads(text)
    assert data["index"] == [{"name": "cellar", "url": URL, "default": True}]
    assert data["pip"] == {"index-url": "x"} and data["native-tls"] is True
    other = URL.replace("dev", "prod")
    replaced = tomllib.loads(uvfile.set_default_index(text, other, UV_PATH))
    assert replaced["index"] == [{"name": "cellar", "url": other, "default": True}]


def test_uv_top_level_index_url_is_updated_in_place():
    before = 'index-url = "http://old/"\n[pip]\nindex-url = "y"\n'
    text = uvfile.set_default_index(before, URL, UV_PATH)
    data = tomllib.loads(text)
    assert data["index-url"] == URL and data["pip"]["index-url"] == "y" and "index" not in data


def test_uv_other_indexes_are_kept():
    before = '[[index]]\nname = "torch"\nurl = "https://download.pytorch.org/whl/cpu"\n'
    data = tomllib.loads(uvfile.set_default_index(before, URL, UV_PATH))
    assert [index["name"] for index in data["index"]] == ["torch", "cellar"]
    assert uvfile.default_index(uvfile.set_default_index(before, URL, UV_PATH), UV_PATH) == URL


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("index-url = [", "not valid TOML"),
        ('[[index]]\nname = "corp"\nurl = "http://c/"\ndefault = true\n', "already has a default"),
    ],
)
def test_uv_refuses_to_guess(text, message):
    with pytest.raises(ClientError, match=message):
        uvfile.set_default_index(text, URL, UV_PATH)


def test_config_paths_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("PIP_CONFIG_FILE", raising=False)
    monkeypatch.delenv("UV_CONFIG_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert installercfg.pip_config_path() == tmp_path / "pip" / "pip.conf"
    assert installercfg.uv_config_path() == tmp_path / "uv" / "uv.toml"
    monkeypatch.setenv("UV_CONFIG_FILE", str(tmp_path / "elsewhere.toml"))
    assert installercfg.uv_config_path() == tmp_path / "elsewhere.toml"
