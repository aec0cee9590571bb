"""The real devpi client drives users, logins and indexes on a real ``cellar serve``."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.e2e

TUNA = "https://pypi.tuna.tsinghua.edu.cn/simple"

#: What ``devpi index`` prints for a new stage index owned by ``owner``.
STAGE_DEFAULTS = {
    "type": "stage",
    "bases": "",
    "volatile": "True",
    "acl_toxresult_upload": ":ANONYMOUS:",
    "mirror_whitelist": "",
    "mirror_whitelist_inheritance": "intersection",
}


def stage_config(owner: str, **changes: str) -> dict[str, str]:
    return {**STAGE_DEFAULTS, "acl_upload": owner, **changes}


def printed_config(result, url: str) -> dict[str, str]:
    """The ``key=value`` lines devpi prints under the ``URL:`` header of an index."""
    lines = result.lines
    header = [n for n, line in enumerate(lines) if line == f"{url}:"]
    assert header, result.output
    config = {}
    for line in lines[header[0] + 1 :]:
        if not line.startswith("  "):
            break
        key, _, value = line.strip().partition("=")
        config[key] = value
    return config


@pytest.fixture
def connected(devpi, cellar_process):
    """The client after ``devpi use`` of the server."""
    devpi.run("use", cellar_process.url)
    return devpi


# --- the seed walkthrough, step by step --------------------------------------------------


def _use_server(devpi, url):
    out = devpi.run("use", url).output
    assert f"using server: {url}/ (not logged in)" in out
    assert "no current index: type 'devpi use -l' to discover indices" in out


def _create_users(devpi):
    for name in ("emilie", "sophie"):
        assert devpi.run("user", "-c", name, "password=1234").lines == [f"user created: {name}"]
    assert devpi.run("user", "-l").lines == ["emilie", "root", "sophie"]
    reply = json.loads(devpi.run("getjson", "/emilie").stdout)
    assert reply["type"] == "userconfig"
    assert set(reply["result"]) == {"created", "indexes", "username"}
    assert reply["result"]["username"] == "emilie"
    assert reply["result"]["indexes"] == {}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", reply["result"]["created"])


def _login(devpi, user, password):
    # The seed types ``--password 1234``, and ``--password=`` for root's empty password.
    secret = ["--password", password] if password else ["--password="]
    out = devpi.run("login", user, *secret).lines
    assert out == [f"logged in '{user}', credentials valid for 10.00 hours"]


def _emilie_creates_prod_and_dev(devpi, url):
    _login(devpi, "emilie", "1234")
    prod = devpi.run("index", "-c", "prod", "volatile=False")
    assert printed_config(prod, f"{url}/emilie/prod?no_projects=") == stage_config(
        "emilie", volatile="False"
    )
    dev = devpi.run("index", "-c", "dev", "bases=/emilie/prod", "volatile=True")
    assert printed_config(dev, f"{url}/emilie/dev?no_projects=") == stage_config(
        "emilie", bases="emilie/prod"
    )
    assert devpi.run("index", "-l").lines == ["emilie/dev", "emilie/prod"]


def _bases_must_exist(devpi, url):
    failed = devpi.run("index", "/emilie/dev", "bases=/emilie/prod,/sophie/dev", ok=False)
    assert f"PATCH {url}/emilie/dev" in failed.output
    assert re.search(r"^400 .*base index '/?sophie/dev' does not exist", failed.output, re.M)
    _login(devpi, "sophie", "1234")
    sophie_dev = devpi.run("index", "-c", "dev")
    assert printed_config(sophie_dev, f"{url}/sophie/dev?no_projects=") == stage_config("sophie")
    _login(devpi, "emilie", "1234")
    patched = devpi.run("index", "/emilie/dev", "bases=/emilie/prod,/sophie/dev")
    assert printed_config(patched, f"{url}/emilie/dev?no_projects=") == stage_config(
        "emilie", bases="emilie/prod,sophie/dev"
    )


def _root_points_pypi_at_tuna(devpi, url):
    _login(devpi, "root", "")
    changed = devpi.run("index", "root/pypi", f"mirror_url={TUNA}")
    assert printed_config(changed, f"{url}/root/pypi?no_projects=") == {
        "type": "mirror",
        "volatile": "False",
        "mirror_url": TUNA,
        "mirror_web_url_fmt": "https://pypi.org/project/{name}/",
        "title": "PyPI",
    }
    assert json.loads(devpi.run("getjson", "/root/pypi").stdout)["result"]["mirror_url"] == TUNA


def _remove_mistake(devpi, url):
    assert devpi.run("user", "-c", "mistake", "password=1").lines == ["user created: mistake"]
    removed = devpi.run("user", "mistake", "-y", "--delete")
    assert f"About to remove: {url}/mistake" in removed.output
    assert removed.lines[-1] == "user deleted: mistake"
    assert devpi.run("user", "-l").lines == ["emilie", "root", "sophie"]


def test_seed_walkthrough(devpi, fresh_cellar_process):
    url = fresh_cellar_process.url
    _use_server(devpi, url)
    _create_users(devpi)
    _emilie_creates_prod_and_dev(devpi, url)
    _bases_must_exist(devpi, url)
    _root_points_pypi_at_tuna(devpi, url)
    _remove_mistake(devpi, url)
    dev = json.loads(devpi.run("getjson", "/emilie/dev").stdout)
    assert dev["type"] == "indexconfig"
    assert dev["result"]["bases"] == ["emilie/prod", "sophie/dev"]
    assert dev["result"]["projects"] == []


# --- further commands ---------------------------------------------------------------------


def test_use_lists_indexes_with_bases_and_volatility(connected):
    connected.run("user", "-c", "anna", "password=1234")
    _login(connected, "anna", "1234")
    connected.run("index", "-c", "prod", "volatile=False")
    connected.run("index", "-c", "dev", "bases=anna/prod")
    listed = {line.split()[0]: line.split()[1:] for line in connected.run("use", "-l").lines}
    assert listed["anna/dev"] == ["bases=anna/prod", "volatile=True"]
    assert listed["anna/prod"] == ["bases=", "volatile=False"]
    assert listed["root/pypi"] == ["bases=", "volatile=False"]


def test_use_of_an_index_and_logoff(connected, cellar_process):
    url = cellar_process.url
    connected.run("user", "-c", "bert", "password=1234")
    _login(connected, "bert", "1234")
    connected.run("index", "-c", "dev")
    used = connected.run("use", "bert/dev").output
    assert f"current devpi index: {url}/bert/dev (logged in as bert)" in used
    assert connected.run("logoff").lines == ["login information deleted"]
    assert f"current devpi index: {url}/bert/dev (not logged in)" in connected.run("use").output
    refused = connected.run("index", "-c", "/bert/other", ok=False)
    assert "you need to be logged in" in refused.output


def test_delete_volatile_index_but_not_a_non_volatile_one(connected, cellar_process):
    url = cellar_process.url
    connected.run("user", "-c", "carla", "password=1234")
    _login(connected, "carla", "1234")
    connected.run("index", "-c", "prod", "volatile=False")
    connected.run("index", "-c", "dev")
    deleted = connected.run("index", "-y", "--delete", "dev")
    assert deleted.lines[-1] == f"index deleted: {url}/carla/dev"
    refused = connected.run("index", "-y", "--delete", "prod", ok=False)
    assert f"DELETE {url}/carla/prod" in refused.output
    assert re.search(r"^403 .*non-volatile", refused.output, re.M)
    assert connected.run("index", "-l").lines == ["carla/prod"]


def test_modify_email_and_password(connected):
    connected.run("user", "-c", "dora", "password=1234")
    _login(connected, "dora", "1234")
    modified = connected.run("user", "-m", "dora", "email=e@x.org")
    assert modified.lines == ["/dora changing email: e@x.org", "user modified: dora"]
    assert json.loads(connected.run("getjson", "/dora").stdout)["result"]["email"] == "e@x.org"
    connected.run("user", "-m", "dora", "password=5678")
    _login(connected, "dora", "5678")
    wrong = connected.run("login", "dora", "--password=1234", ok=False)
    assert re.search(r"^401 .*'dora' could not be authenticated", wrong.output, re.M)


def test_passwd_reads_the_new_password_twice(connected):
    connected.run("user", "-c", "emma", "password=1234")
    _login(connected, "emma", "1234")
    changed = connected.run("passwd", stdin="cheddar-wheel\ncheddar-wheel\n")
    assert "user modified: emma" in changed.stdout
    _login(connected, "emma", "cheddar-wheel")


def test_errors_are_reported_with_status_and_message(connected, cellar_process):
    url = cellar_process.url
    connected.run("user", "-c", "fred", "password=1234")
    twice = connected.run("user", "-c", "fred", "password=1234", ok=False)
    assert f"PUT {url}/fred" in twice.output
    assert re.search(r"^409 .*user already exists", twice.output, re.M)
    _login(connected, "fred", "1234")
    connected.run("index", "-c", "dev")
    again = connected.run("index", "-c", "dev", ok=False)
    assert re.search(r"^409 .*fred/dev", again.output, re.M)
    unknown = connected.run("index", "-c", "bad", "foo=bar", ok=False)
    assert re.search(r"^400 .*foo", unknown.output, re.M)
