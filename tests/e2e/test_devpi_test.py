"""``devpi test`` runs tox offline on a release from a real ``cellar serve`` and uploads
the result; ``devpi list -t`` / ``-f`` and the version JSON then show it."""

from __future__ import annotations

import json
import re

import pytest
import requests
from toxpkg import ToxSample
from toxpkg import build_tox_dists
from toxpkg import offline_tox_environ

from conftest import DevpiClient
from conftest import client_environ

pytestmark = pytest.mark.e2e

PASSING = ToxSample("tinypkg", "1.0", passing=True)
FAILING = ToxSample("tinypkg", "2.0", passing=False)
#: ``devpi test`` tests only the wheel: the sdist would need a build backend from an index.
WHEELS_ONLY = "--select=\\.whl$"


@pytest.fixture(scope="module")
def tested(cellar_process, tmp_path_factory):
    """tess uploads tinypkg 1.0 (passing) and 2.0 (failing) and runs ``devpi test`` on
    both; yields the client and the outputs of the two runs."""
    workdir = tmp_path_factory.mktemp("devpi-test")
    home = workdir / "home"
    home.mkdir()
    env = offline_tox_environ(client_environ(home), workdir)
    devpi = DevpiClient(workdir / "client", env)
    devpi.run("use", cellar_process.url)
    devpi.run("user", "-c", "tess", "password=tesspw")
    devpi.run("login", "tess", "--password", "tesspw")
    devpi.run("index", "-c", "dev")
    devpi.run("use", "tess/dev")
    dists = [build_tox_dists(sample, workdir / "dist") for sample in (PASSING, FAILING)]
    devpi.run("upload", *(str(path) for built in dists for path in built.files))
    passed = devpi.run("test", WHEELS_ONLY, "tinypkg==1.0")
    # devpi-client 7.3 exits 0 here too; it says "tox command failed" and uploads the result.
    failed = devpi.run("test", WHEELS_ONLY, "tinypkg==2.0")
    return devpi, passed, failed


def file_url(server, sample: ToxSample, kind: str) -> str:
    """The URL ``devpi list`` prints for the sample's wheel or sdist."""
    reply = requests.get(
        f"{server.url}/tess/dev/tinypkg/{sample.version}",
        headers={"Accept": "application/json"},
        timeout=30,
    )
    name = sample.wheel_name if kind == "wheel" else sample.sdist_name
    (href,) = [
        link["href"] for link in reply.json()["result"]["+links"] if link["href"].endswith(name)
    ]
    return href


def toxresults(server, sample: ToxSample) -> list[dict]:
    reply = requests.get(
        f"{server.url}/tess/dev/tinypkg/{sample.version}",
        headers={"Accept": "application/json"},
        timeout=30,
    )
    return [link for link in reply.json()["result"]["+links"] if link["rel"] == "toxresult"]


def status_lines(listing: str, url: str) -> list[str]:
    """The lines ``devpi list -t`` prints under the file ``url``, up to the next file."""
    lines = listing.splitlines()
    start = lines.index(url) + 1
    following = []
    for line in lines[start:]:
        if line.startswith("http"):
            break
        following.append(line)
    return following


def test_devpi_test_uploads_the_result_of_a_passing_run(cellar_process, tested):
    _devpi, passed, _failed = tested
    wheel = file_url(cellar_process, PASSING, "wheel")
    assert f"posting tox result data to {wheel}" in passed.output
    assert "could not post" not in passed.output
    (link,) = toxresults(cellar_process, PASSING)
    assert link["for_href"] == wheel
    assert link["log"][0]["who"] == "tess"
    result = requests.get(link["href"], timeout=30).json()
    (test,) = result["testenvs"]["py"]["test"]
    assert test["retcode"] == 0
    assert "answer() = 42, expected 42" in test["output"]
    assert result["testenvs"]["py"]["installpkg"]["basename"] == PASSING.wheel_name


def test_devpi_test_uploads_the_result_of_a_failing_run(cellar_process, tested):
    _devpi, _passed, failed = tested
    wheel = file_url(cellar_process, FAILING, "wheel")
    assert f"posting tox result data to {wheel}" in failed.output
    assert "tox command failed" in failed.output
    (link,) = toxresults(cellar_process, FAILING)
    assert link["for_href"] == wheel
    (test,) = requests.get(link["href"], timeout=30).json()["testenvs"]["py"]["test"]
    assert test["retcode"] == 1


def test_devpi_list_shows_which_release_passed(cellar_process, tested):
    devpi, _passed, _failed = tested
    listing = devpi.run("list", "-t", "tinypkg").output
    passing = status_lines(listing, file_url(cellar_process, PASSING, "wheel"))
    failing = status_lines(listing, file_url(cellar_process, FAILING, "wheel"))
    assert [line for line in passing if re.search(r"\bpy\b.* tests passed$", line)], listing
    assert not [line for line in passing if "failed" in line], listing
    assert [line for line in failing if re.search(r"\bpy\b.* tests failed$", line)], listing
    assert status_lines(listing, file_url(cellar_process, PASSING, "sdist")) == []


def test_devpi_list_failures_shows_the_failing_command(cellar_process, tested):
    devpi, _passed, _failed = tested
    listing = devpi.run("list", "-f", "tinypkg").output
    failing = status_lines(listing, file_url(cellar_process, FAILING, "wheel"))
    assert any("FAIL:" in line and "tinypkg.selftest" in line for line in failing), listing
    assert any("answer() = 41, expected 42" in line for line in failing), listing


def test_getjson_shows_the_same_links(cellar_process, tested):
    devpi, _passed, _failed = tested
    reply = json.loads(devpi.run("getjson", "/tess/dev/tinypkg/2.0").stdout)
    links = [link for link in reply["result"]["+links"] if link["rel"] == "toxresult"]
    assert links == toxresults(cellar_process, FAILING)
