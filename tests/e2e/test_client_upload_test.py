"""``cellar upload`` and ``cellar test`` as subprocesses against a real ``cellar serve``.

tox runs for real and offline: the tox.ini needs no dependencies, the wheel is installed
with ``--installpkg``, and pip reads no configuration but ours.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests
from toxpkg import ToxSample
from toxpkg import build_tox_dists
from toxpkg import offline_tox_environ
from toxpkg import write_tox_project

from conftest import ClientResult
from conftest import client_environ

pytestmark = pytest.mark.e2e

#: What the failing sample's test prints.
FAILURE_TEXT = "answer() = 41, expected 42"
USER = "tessa"
PASSWORD = "tessa-pw"
JSON = {"Accept": "application/json"}


@dataclasses.dataclass
class CellarClient:
    """The ``cellar`` client with a home and a client directory of its own."""

    env: dict[str, str]
    workdir: Path

    def run(self, *args: str, cwd: Path | None = None, ok: bool = True) -> ClientResult:
        command = [sys.executable, "-m", "cheesecellar.cli", *args]
        done = subprocess.run(
            command, env=self.env, cwd=cwd or self.workdir, capture_output=True, text=True,
            timeout=180, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        result = ClientResult(done.returncode, done.stdout, done.stderr)
        shown = f"$ cellar {' '.join(args)}\n{result.output}"
        assert "Traceback" not in result.output, shown
        assert (result.returncode == 0) is ok, shown
        return result


@pytest.fixture(scope="module")
def server(cellar_process):
    """The module's server, with ``tessa/dev`` (volatile) and ``tessa/prod`` (not volatile)."""
    url = cellar_process.url
    assert requests.put(f"{url}/{USER}", json={"password": PASSWORD}, headers=JSON).ok
    token = login_token(url)
    auth = {**JSON, "X-Devpi-Auth": token}
    assert requests.put(f"{url}/{USER}/dev", json={}, headers=auth).ok
    assert requests.put(f"{url}/{USER}/prod", json={"volatile": False}, headers=auth).ok
    return cellar_process


def login_token(url: str) -> str:
    reply = requests.post(f"{url}/+login", json={"user": USER, "password": PASSWORD}, headers=JSON)
    token = reply.json()["result"]["password"]
    return base64.b64encode(f"{USER}:{token}".encode()).decode()


def new_client(tmp_path: Path, server_url: str, *, login: bool = True) -> CellarClient:
    home = tmp_path / "home"
    home.mkdir()
    env = client_environ(home, CELLAR_CLIENT_DIR=str(tmp_path / "cellar-client"))
    client = CellarClient(offline_tox_environ(env, tmp_path), tmp_path)
    client.run("use", f"{server_url}/{USER}/dev")
    if login:
        client.run("login", USER, "--password", PASSWORD)
    return client


@pytest.fixture(scope="module")
def cellar(tmp_path_factory, server) -> CellarClient:
    """A client that uses ``tessa/dev`` and is logged in as tessa (shared: tests only read
    its state)."""
    return new_client(tmp_path_factory.mktemp("cellar-client"), server.url)


def project_in(
    directory: Path, name: str, version: str, *, passing: bool, docs: bool = False
) -> Path:
    """A buildable project whose tox test passes or fails; ``docs`` adds built HTML docs."""
    write_tox_project(ToxSample(name, version, passing), directory)
    if docs:
        html = directory / "docs" / "_build" / "html"
        html.mkdir(parents=True)
        (html / "index.html").write_text(f"<h1>{name} documentation</h1>\n")
    return directory


def wheel_in(directory: Path, name: str, version: str, *, passing: bool = True) -> Path:
    """A wheel written without a build; ``passing`` changes its bytes, not its name."""
    return build_tox_dists(ToxSample(name, version, passing), directory).wheel


def version_links(url: str, index: str, project: str, version: str) -> list[dict]:
    reply = requests.get(f"{url}/{index}/{project}/{version}", headers=JSON)
    assert reply.status_code == 200, reply.text
    return reply.json()["result"]["+links"]


def links_of(links: list[dict], rel: str) -> list[dict]:
    return [link for link in links if link["rel"] == rel]


def tox_results(url: str, index: str, project: str, version: str) -> dict[str, list[dict]]:
    """``{tested file name: [tox result JSON, ...]}`` from the version's toxresult links."""
    found: dict[str, list[dict]] = {}
    for link in links_of(version_links(url, index, project, version), "toxresult"):
        body = requests.get(link["href"]).json()
        found.setdefault(link["for_href"].rsplit("/", 1)[-1], []).append(body)
    return found


def retcodes_of(result: dict) -> list[int]:
    return [
        int(step["retcode"]) for env in result["testenvs"].values() for step in env.get("test", ())
    ]


def tox_status(cellar: CellarClient, spec: str, filename: str) -> str:
    """What ``cellar list -t`` says of the ``py`` environment's run on ``filename``."""
    lines = cellar.run("list", "-t", spec).lines
    start = next(i for i, line in enumerate(lines) if line.endswith("/" + filename))
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        words = line.split()
        if words[2] == "py":
            return " ".join(words[-2:])
    raise AssertionError(f"no tox result of py for {filename}:\n" + "\n".join(lines))


# --- the whole flow: build, upload with docs, test, see the result ------------------------


def test_upload_builds_and_test_passes(cellar, server, tmp_path):
    project = project_in(tmp_path / "okproj", "tox-ok", "1.0", passing=True, docs=True)

    uploaded = cellar.run("upload", "--no-isolation", "--with-docs", cwd=project)
    # setuptools before 69.3 names the sdist tox-ok-1.0.tar.gz, later ones tox_ok-1.0.tar.gz
    assert re.search(r"tox[-_]ok-1\.0\.tar\.gz -> tessa/dev", uploaded.stdout)
    assert "tox_ok-1.0-py3-none-any.whl -> tessa/dev" in uploaded.stdout
    links = version_links(server.url, "tessa/dev", "tox-ok", "1.0")
    names = sorted(link["href"].rsplit("/", 1)[-1] for link in links)
    sdist = next(name for name in names if name.endswith(".tar.gz"))
    assert sdist in ("tox_ok-1.0.tar.gz", "tox-ok-1.0.tar.gz")
    assert sorted([*names]) == sorted(["tox-ok-1.0.doc.zip", "tox_ok-1.0-py3-none-any.whl", sdist])
    (doczip,) = links_of(links, "doczip")
    with zipfile.ZipFile(io.BytesIO(requests.get(doczip["href"]).content)) as zipped:
        assert b"tox-ok documentation" in zipped.read("index.html")

    tested = cellar.run("test", "tox-ok")
    assert "testing tox-ok 1.0 from tessa/dev: tox_ok-1.0-py3-none-any.whl" in tested.stdout
    assert "congratulations" in tested.output
    assert "tox result stored" in tested.stdout
    assert tox_status(cellar, "tox-ok", "tox_ok-1.0-py3-none-any.whl") == "tests passed"
    results = tox_results(server.url, "tessa/dev", "tox-ok", "1.0")
    assert list(results) == ["tox_ok-1.0-py3-none-any.whl"]
    (result,) = results["tox_ok-1.0-py3-none-any.whl"]
    assert result["testenvs"]["py"]["installpkg"]["basename"] == "tox_ok-1.0-py3-none-any.whl"
    assert retcodes_of(result) == [0]


def test_failing_tests_give_a_failed_result_and_nonzero_exit(cellar, server, tmp_path):
    project = project_in(tmp_path / "badproj", "tox-bad", "2.0", passing=False)
    cellar.run("upload", "--no-isolation", cwd=project)

    tested = cellar.run("test", "tox-bad==2.0", "-e", "py", ok=False)
    assert tested.returncode == 1
    assert FAILURE_TEXT in tested.output
    assert "tox failed with exit code 1" in tested.stderr
    assert "tox result stored" in tested.stdout
    assert tox_status(cellar, "tox-bad", "tox_bad-2.0-py3-none-any.whl") == "tests failed"
    (result,) = tox_results(server.url, "tessa/dev", "tox-bad", "2.0")[
        "tox_bad-2.0-py3-none-any.whl"
    ]
    assert retcodes_of(result) == [1]
    assert FAILURE_TEXT in json.dumps(result)


# --- upload options -------------------------------------------------------------------------


def test_dry_run_builds_and_uploads_nothing(cellar, server, tmp_path):
    project = project_in(tmp_path / "dry", "dry-run-pkg", "0.1", passing=True)
    shown = cellar.run("upload", "--no-isolation", "--dry-run", cwd=project)
    assert f"would upload to {server.url}/tessa/dev/" in shown.stdout
    assert re.search(r"dry[-_]run[-_]pkg-0\.1\.tar\.gz \(sdist", shown.stdout)
    assert "dry_run_pkg-0.1-py3-none-any.whl (wheel" in shown.stdout
    reply = requests.get(f"{server.url}/tessa/dev/dry-run-pkg", headers=JSON)
    assert reply.status_code == 404


def test_only_docs_zips_a_directory(cellar, server, tmp_path):
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text("<p>hand-made docs</p>")
    project = project_in(tmp_path / "docsonly", "docs-only", "3.1", passing=True)
    shown = cellar.run("upload", "--only-docs", "--docs-zip", str(html), cwd=project)
    assert "docs-only-3.1.doc.zip -> tessa/dev" in shown.stdout
    links = version_links(server.url, "tessa/dev", "docs-only", "3.1")
    assert [link["rel"] for link in links] == ["doczip"]


def test_given_files_are_uploaded_with_their_metadata(cellar, server, tmp_path):
    wheel = wheel_in(tmp_path, "given-files", "1.5")
    cellar.run("upload", str(wheel))
    reply = requests.get(f"{server.url}/tessa/dev/given-files/1.5", headers=JSON)
    assert reply.json()["result"]["summary"] == "A tiny project that tox tests offline"


# --- bad input: a clear message, a non-zero exit, nothing changed ---------------------------


def test_conflict_on_a_non_volatile_index(cellar, server, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    cellar.run("upload", "--index", "tessa/prod", str(wheel_in(first, "frozen", "1.0")))
    again = wheel_in(second, "frozen", "1.0", passing=False)
    refused = cellar.run("upload", "--index", "tessa/prod", str(again), ok=False)
    assert "frozen-1.0-py3-none-any.whl was not uploaded" in refused.stderr
    assert "tessa/prod is not volatile" in refused.stderr
    (link,) = version_links(server.url, "tessa/prod", "frozen", "1.0")
    assert requests.get(link["href"]).content == (first / again.name).read_bytes()


def test_unknown_index(cellar, tmp_path):
    wheel = wheel_in(tmp_path, "lost", "1.0")
    refused = cellar.run("upload", "--index", "tessa/nope", str(wheel), ok=False)
    assert "404" in refused.stderr
    assert "tessa/nope" in refused.stderr
    missing = cellar.run("test", "--index", "tessa/nope", "lost", ok=False)
    assert "cannot find lost on tessa/nope: " in missing.stderr


def test_malformed_spec_and_unknown_release(cellar):
    malformed = cellar.run("test", "foo==", ok=False)
    assert "malformed spec 'foo=='" in malformed.stderr
    unknown = cellar.run("test", "no-such-project", ok=False)
    assert "cannot find no-such-project on tessa/dev: " in unknown.stderr


def test_upload_without_login_is_refused_before_building(tmp_path, server):
    client = new_client(tmp_path, server.url, login=False)
    project = project_in(tmp_path / "anon", "anon-pkg", "1.0", passing=True)
    refused = client.run("upload", "--no-isolation", cwd=project, ok=False)
    assert "not logged in" in refused.stderr
    assert "cellar login" in refused.stderr
    assert "building" not in refused.stdout
    assert requests.get(f"{server.url}/tessa/dev/anon-pkg", headers=JSON).status_code == 404


def test_build_errors_are_shown(cellar, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n[project\n')
    failed = cellar.run("upload", "--no-isolation", cwd=broken, ok=False)
    assert "the build failed" in failed.stderr
    assert "  | " in failed.stderr
