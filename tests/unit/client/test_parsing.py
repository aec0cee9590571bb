"""Client-side parsing: release specs, key=value arguments and tox result JSON."""

from __future__ import annotations

import json

import pytest

from cheesecellar_client import toxshow
from cheesecellar_client.http import ClientError
from cheesecellar_client.keyvalues import parse_keyvalues
from cheesecellar_client.specs import parse_pin
from cheesecellar_client.specs import parse_spec


def test_exact_pins_match_the_version_as_written():
    spec = parse_spec("Hello_World==1.0")
    assert spec.project == "hello-world" and spec.exact_version == "1.0"
    assert spec.matches("1.0") and not spec.matches("1.0.0")


def test_ranges_and_bare_names():
    assert parse_spec("pkg").matches("0.1.dev1")
    ranged = parse_spec("pkg>=1.0,<2")
    assert ranged.matches("1.5") and not ranged.matches("2.0") and ranged.exact_version is None
    assert parse_pin("pkg==1.0+local") == ("pkg", "1.0+local")


MALFORMED = ["a b", "pkg[extra]==1", "pkg @ http://x/y", "pkg; python_version>'3'"]
OPERATIONS = ["bases=a/b,c/d", "acl_upload+=bob", "acl_upload-=", "title=x=y"]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_specs(text):
    with pytest.raises(ClientError, match="malformed spec"):
        parse_spec(text)


def test_keyvalue_operations():
    parsed = parse_keyvalues(OPERATIONS, operations=True)
    assert [str(item) for item in parsed] == OPERATIONS
    with pytest.raises(ClientError, match="expected key=value"):
        parse_keyvalues(["acl_upload+=bob"])


def result(**envs) -> str:
    return json.dumps({"host": "h", "platform": "linux", "testenvs": envs})


def test_tox3_string_retcodes_and_missing_tests():
    envs = toxshow.parse_toxresult(
        result(
            ok={"test": [{"command": ["pytest"], "retcode": "0"}]},
            bad={"setup": [{"command": ["pip"], "retcode": "1", "output": "no"}], "test": []},
        )
    )
    by_name = {env.envname: env for env in envs}
    assert by_name["ok"].passed
    lines = [text for _, text in toxshow.status_lines(by_name["bad"], failures=True)]
    assert lines[0].endswith("setup failed") and "    FAIL: pip" in lines
    assert lines[-1].endswith("no tests were run")


@pytest.mark.parametrize("body", ["[]", "{}", '{"host": "h", "platform": "p"}', "nope"])
def test_unreadable_tox_results(body):
    with pytest.raises(toxshow.BadToxResult):
        toxshow.parse_toxresult(body)


def test_newest_result_per_environment_wins():
    newest = toxshow.parse_toxresult(result(py={"test": [{"command": ["t"], "retcode": 1}]}))
    older = toxshow.parse_toxresult(result(py={"test": [{"command": ["t"], "retcode": 0}]}))
    shown = list(toxshow.newest_first([newest, older]))
    assert len(shown) == 1 and not shown[0].passed
