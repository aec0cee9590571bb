"""contrib/jenkins/Jenkinsfile: its parameters are the trigger's, and its test stage, run
without Jenkins, tests the triggered release and uploads the tox result."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from distfiles import Dist
from distfiles import upload
from test_triggers_delivery import Receiver
from test_triggers_delivery import alice_index
from test_triggers_delivery import free_port

from cheesecellar_jenkins.payloads import JENKINS_PARAMETERS

REPO = Path(__file__).resolve().parents[2]
JENKINSFILE = REPO / "contrib" / "jenkins" / "Jenkinsfile"
TEST_STAGE = "Test the release"
INSTALL_STAGE = "Install the client"


def load_toxpkg():
    """The e2e tests' offline tox project (a module beside their conftest)."""
    if "toxpkg" in sys.modules:  # the e2e tests imported it already
        return sys.modules["toxpkg"]
    spec = importlib.util.spec_from_file_location("toxpkg", REPO / "tests" / "e2e" / "toxpkg.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["toxpkg"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def declared_parameters(text: str) -> list[str]:
    block = re.search(r"\n    parameters \{\n(.*?)\n    \}\n", text, re.S).group(1)
    return re.findall(r"string\(name: '([A-Z_]+)'", block)


def stage_scripts(text: str) -> dict[str, str]:
    """``{stage name: its sh '''...''' script}``."""
    return dict(re.findall(r"stage\('([^']+)'\) \{.*?sh '''\n(.*?)'''", text, re.S))


def environment(text: str) -> dict[str, str]:
    block = re.search(r"\n    environment \{\n(.*?)\n    \}\n", text, re.S).group(1)
    return dict(re.findall(r'^\s+([A-Z_]+) = "(.*)"$', block, re.M))


def test_the_job_declares_exactly_the_parameters_the_trigger_sends():
    assert declared_parameters(JENKINSFILE.read_text()) == list(JENKINS_PARAMETERS)


def test_the_stages_are_valid_shell_and_share_the_virtualenv():
    text = JENKINSFILE.read_text()
    scripts = stage_scripts(text)
    assert list(scripts) == [INSTALL_STAGE, TEST_STAGE]
    for name, script in scripts.items():
        checked = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True)
        assert checked.returncode == 0, f"{name}: {checked.stderr}"
        assert script.lstrip().startswith("set -eu\n")
    assert environment(text) == {
        "CELLAR_VENV": "${WORKSPACE}/.cellar-venv",
        "CELLAR_CLIENT_DIR": "${WORKSPACE}/.cellar-client",
    }
    assert 'python3 -m venv "$CELLAR_VENV"' in scripts[INSTALL_STAGE]
    assert "cheesecellar[client]" in scripts[INSTALL_STAGE]
    assert 'export PATH="$CELLAR_VENV/bin:$PATH"' in scripts[TEST_STAGE]


def run_test_stage(parameters: dict, workspace: Path, toxpkg) -> subprocess.CompletedProcess:
    """The test stage as Jenkins runs it: the parameters and the environment block as
    variables, the workspace as working directory. The "virtualenv" is this Python's own
    environment, which has cheesecellar and tox (the install stage needs the network)."""
    home = workspace / "home"
    home.mkdir(parents=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CELLAR_", "XDG_"))}
    env = toxpkg.offline_tox_environ({**base, "HOME": str(home)}, workspace)
    env.update(parameters)
    env.update(
        WORKSPACE=str(workspace),
        CELLAR_VENV=str(Path(sys.executable).parent.parent),
        CELLAR_CLIENT_DIR=str(workspace / ".cellar-client"),
    )
    script = stage_scripts(JENKINSFILE.read_text())[TEST_STAGE]
    return subprocess.run(
        ["sh", "-c", script], cwd=workspace, env=env, capture_output=True, text=True, timeout=240
    )


def test_the_test_stage_refuses_a_command_that_is_not_cellar_test(tmp_path):
    parameters = dict.fromkeys(JENKINS_PARAMETERS, "x")
    parameters["CELLAR_TEST_COMMAND"] = "touch pwned"
    done = run_test_stage(parameters, tmp_path, load_toxpkg())
    assert done.returncode == 2
    assert "CELLAR_TEST_COMMAND is not a cellar test command" in done.stderr
    assert not (tmp_path / "pwned").exists()


@pytest.mark.e2e
def test_the_test_stage_tests_the_triggered_release(make_cellar, tmp_path):
    toxpkg = load_toxpkg()
    receiver = Receiver()
    try:
        server = make_cellar(port=free_port(), extra={"no_root_pypi": True})
        alice = alice_index(server, "dev", uploadtrigger_jenkins=f"{receiver.url}/job/{{pkgname}}")
        alice.put("/alice/staging", json={}).raise_for_status()
        sample = toxpkg.ToxSample("triggered-pkg", "1.3", passing=True)
        dists = toxpkg.build_tox_dists(sample, tmp_path / "dists")
        for path, filetype in ((dists.sdist, "sdist"), (dists.wheel, "bdist_wheel")):
            dist = Dist(sample.name, sample.version, path.name, path.read_bytes(), None, filetype)
            reply = upload(f"{server.url}/alice/staging/", dist, auth=("alice", "alice-pw"))
            assert reply.status_code == 200, reply.text
        push = {"name": sample.name, "version": sample.version, "targetindex": "alice/dev"}
        assert alice.request("PUSH", "/alice/staging", json=push).status_code == 200
        [request] = receiver.wait_for(1)
    finally:
        receiver.close()
    parameters = request.form
    pushed = sorted([dists.sdist.name, dists.wheel.name])
    assert sorted(parameters["CELLAR_FILES"].split()) == pushed  # one trigger for the push

    done = run_test_stage(parameters, tmp_path / "workspace", toxpkg)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"testing triggered-pkg 1.3 ({parameters['CELLAR_FILES']})" in output
    assert "tox result stored" in output
    reply = requests.get(
        f"{server.url}/alice/dev/triggered-pkg/1.3", headers={"Accept": "application/json"}
    )
    results = [link for link in reply.json()["result"]["+links"] if link["rel"] == "toxresult"]
    assert [link["for_href"].rsplit("/", 1)[-1] for link in results] == [sample.wheel_name]
