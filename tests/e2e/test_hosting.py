"""Private hosting with real clients: twine and devpi upload, pip and uv install, ACLs."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests
from packages import Built
from packages import Sample
from uv import find_uv_bin

from conftest import ClientResult
from conftest import client_environ
from conftest import devpi_client_in

pytestmark = pytest.mark.e2e

LIB_09 = Sample("lib", "0.9")
LIB_10 = Sample("lib", "1.0")
LIB_10_CHANGED = Sample("lib", "1.0", variant=1)
LIB_11 = Sample("lib", "1.1")
APP_10 = Sample("app", "1.0", dependencies=("lib>=1.0",))
TOOL_10 = Sample("sophies-tool", "1.0")
SAMPLES = (LIB_09, LIB_10, LIB_10_CHANGED, LIB_11, APP_10, TOOL_10)
JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CLIENT_TIMEOUT = 120


def squeezed(text: str) -> str:
    """Client output without colours and with all white space runs made single spaces."""
    return " ".join(ANSI.sub("", text).split())


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Clients:
    """twine, pip, uv and python run with a home and caches of their own."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.env = client_environ(home)

    def run(self, *command: str | Path, ok: bool = True) -> ClientResult:
        args = [str(part) for part in command]
        done = subprocess.run(
            args,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT,
        )
        result = ClientResult(done.returncode, done.stdout, done.stderr)
        assert (done.returncode == 0) is ok, f"$ {' '.join(args)}\n{result.output}"
        return result

    def twine(self, url: str, user: str, password: str, *files: Path, ok=True, verbose=False):
        """``twine upload`` with the credentials given on the command line, never prompting."""
        command = [sys.executable, "-m", "twine", "upload", "--repository-url", url]
        command += ["-u", user, "-p", password, "--non-interactive", "--disable-progress-bar"]
        command += ["--verbose"] if verbose else []
        return self.run(*command, *files, ok=ok)

    def pip(self, *args: str | Path, ok: bool = True) -> ClientResult:
        return self.run(sys.executable, "-m", "pip", *args, ok=ok)

    def uv(self, *args: str | Path, ok: bool = True) -> ClientResult:
        return self.run(find_uv_bin(), *args, ok=ok)

    def fresh_venv(self, path: Path) -> Path:
        """A new virtual environment without pip (the outer pip installs into it)."""
        self.run(sys.executable, "-m", "venv", "--without-pip", path)
        return path / "bin" / "python"


class LogWindow:
    """The server's access log lines written from now on."""

    def __init__(self, server) -> None:
        self.server = server
        self.start = len(server.requests_logged())

    def requests(self) -> list:
        """Requests logged since the window opened, up to a marker request of our own.

        A request's line is written when its response is done, which can be a moment after
        the client has read it; the marker, sent after the client exited, bounds that.
        """
        marker = f"/+api?logwindow={time.monotonic_ns()}"
        requests.get(self.server.url + marker, timeout=10).raise_for_status()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            logged = self.server.requests_logged()[self.start :]
            if any(entry.path == marker for entry in logged):
                return [entry for entry in logged if entry.path != marker]
            time.sleep(0.05)
        raise AssertionError(f"marker request {marker} never reached the access log")


#: ``/{user}/{index}/+f/{hash[:3]}/{hash[3:16]}/{filename}``, as pip sends ``+`` or not.
FILE_PATH = re.compile(
    r"/(?P<index>[^/]+/[^/]+)/(?:\+|%2B)f/[0-9a-f]{3}/[0-9a-f]{13}/(?P<name>[^/]+)"
)


def located(path: str) -> tuple[str, str]:
    """``(index, filename)`` of a stored file's URL path."""
    found = FILE_PATH.fullmatch(path)
    assert found, path
    return found["index"], found["name"]


def filenames(entries, agent: str, suffix: str) -> set[str]:
    """Names of files a client ``agent`` fetched with GET, by path suffix."""
    return {
        entry.path.rsplit("/", 1)[1]
        for entry in entries
        if entry.agent.startswith(agent) and entry.method == "GET" and entry.path.endswith(suffix)
    }


def simple_json(url: str, index: str, project: str) -> dict:
    reply = requests.get(f"{url}/{index}/+simple/{project}/", headers={"Accept": JSON_SIMPLE})
    reply.raise_for_status()
    return reply.json()


def file_hashes(url: str, index: str, project: str) -> dict[str, str]:
    """``{filename: sha256}`` from the JSON simple page."""
    page = simple_json(url, index, project)
    return {item["filename"]: item["hashes"]["sha256"] for item in page["files"]}


def project_files(url: str, index: str, project: str) -> dict[str, set[str]]:
    """``{version: {filename, ...}}`` stored in ``index`` itself (not in its bases)."""
    reply = requests.get(
        f"{url}/{index}/{project}?ignore_bases", headers={"Accept": "application/json"}
    )
    reply.raise_for_status()
    return {
        version: {link["href"].rsplit("/", 1)[1] for link in data.get("+links", [])}
        for version, data in reply.json()["result"].items()
    }


# --- the scenario: users, indexes and uploads, shared by the module ----------------------


@pytest.fixture(scope="module")
def server(logged_cellar_process):
    return logged_cellar_process


@pytest.fixture(scope="module")
def built(dist_builder) -> dict[Sample, Built]:
    return dict(zip(SAMPLES, dist_builder.build(*SAMPLES), strict=True))


@pytest.fixture(scope="module")
def clients(tmp_path_factory) -> Clients:
    return Clients(tmp_path_factory.mktemp("clients") / "home")


@pytest.fixture(scope="module")
def emilie(server, tmp_path_factory):
    """The devpi client logged in as emilie, using emilie/dev (which inherits emilie/prod)."""
    devpi = devpi_client_in(tmp_path_factory.mktemp("devpi-emilie"))
    devpi.run("use", server.url)
    for name in ("emilie", "sophie"):
        assert devpi.run("user", "-c", name, "password=1234").lines == [f"user created: {name}"]
    devpi.run("login", "emilie", "--password", "1234")
    assert "  volatile=False" in devpi.run("index", "-c", "prod", "volatile=False").lines
    assert "  bases=emilie/prod" in devpi.run("index", "-c", "dev", "bases=emilie/prod").lines
    devpi.run("use", "emilie/dev")
    return devpi


@pytest.fixture(scope="module")
def twine_upload(server, emilie, built, clients) -> ClientResult:
    """emilie uploads wheels and sdists of lib 1.0 and app 1.0 to emilie/prod with twine."""
    files = [*built[LIB_10].files, *built[APP_10].files]
    return clients.twine(f"{server.url}/emilie/prod/", "emilie", "1234", *files)


@pytest.fixture(scope="module")
def doc_zip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("docs") / "lib-1.1.doc.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.html", "<h1>lib 1.1</h1>\n")
    return path


@pytest.fixture(scope="module")
def devpi_upload(emilie, built, doc_zip) -> ClientResult:
    """emilie uploads lib 1.1 (wheel, sdist, docs) and a lib 0.9 wheel to emilie/dev."""
    return emilie.run(
        "upload", *map(str, built[LIB_11].files), str(built[LIB_09].wheel), str(doc_zip)
    )


@pytest.fixture(scope="module")
def hosted(twine_upload, devpi_upload) -> None:
    """prod holds lib 1.0 and app 1.0; dev holds lib 0.9 and 1.1."""


# --- uploads ------------------------------------------------------------------------------


def test_twine_uploads_wheels_and_sdists(server, twine_upload):
    for name in ("lib-1.0-py3-none-any.whl", "lib-1.0.tar.gz", "app-1.0-py3-none-any.whl"):
        assert f"Uploading {name}" in twine_upload.output
    assert "Uploading app-1.0.tar.gz" in twine_upload.output
    assert project_files(server.url, "emilie/prod", "lib") == {
        "1.0": {"lib-1.0-py3-none-any.whl", "lib-1.0.tar.gz"}
    }
    assert project_files(server.url, "emilie/prod", "app") == {
        "1.0": {"app-1.0-py3-none-any.whl", "app-1.0.tar.gz"}
    }
    posts = [
        e for e in server.requests_logged() if e.agent.startswith("twine/") and e.method == "POST"
    ]
    assert [(e.path, e.status) for e in posts[:4]] == [("/emilie/prod/", 200)] * 4


def test_devpi_upload_stores_files_and_docs(server, devpi_upload):
    dev = f"{server.url}/emilie/dev/"
    for name in ("lib-1.1-py3-none-any.whl", "lib-1.1.tar.gz", "lib-0.9-py3-none-any.whl"):
        assert f"file_upload of {name} to {dev}" in devpi_upload.lines
    assert f"doc_upload of lib-1.1.doc.zip to {dev}" in devpi_upload.lines
    assert project_files(server.url, "emilie/dev", "lib") == {
        "0.9": {"lib-0.9-py3-none-any.whl"},
        "1.1": {"lib-1.1-py3-none-any.whl", "lib-1.1.tar.gz", "lib-1.1.doc.zip"},
    }


def test_devpi_list_shows_files_of_dev_and_inherited_prod(server, emilie, hosted):
    listed = emilie.run("list", "lib").lines
    assert all(line.startswith(server.url + "/") for line in listed), listed
    assert sorted(located(line.removeprefix(server.url)) for line in listed) == [
        ("emilie/dev", "lib-0.9-py3-none-any.whl"),
        ("emilie/dev", "lib-1.1-py3-none-any.whl"),
        ("emilie/dev", "lib-1.1.tar.gz"),
        ("emilie/prod", "lib-1.0-py3-none-any.whl"),
        ("emilie/prod", "lib-1.0.tar.gz"),
    ]


# --- installing ---------------------------------------------------------------------------


def test_pip_installs_from_dev_what_is_in_prod(server, clients, built, hosted, tmp_path):
    python = clients.fresh_venv(tmp_path / "venv")
    window = LogWindow(server)
    index = f"{server.url}/emilie/dev/+simple/"
    result = clients.pip(
        "--python", python, "install", "--no-cache-dir", "--index-url", index, "app"
    )
    assert "Successfully installed app-1.0 lib-1.1" in result.stdout
    versions = clients.run(
        python,
        "-c",
        "import app, lib, importlib.metadata as m; print(m.version('lib'), lib.VARIANT)",
    )
    assert versions.stdout.split() == ["1.1", "0"]
    logged = window.requests()
    assert ("GET", "/emilie/dev/+simple/app/", 200) in {
        (e.method, e.path, e.status) for e in logged
    }
    # app is only in prod: its page comes through dev, its wheel from prod. The log
    # counts the bytes of each wheel sent.
    fetched = {
        located(e.path): e.size
        for e in logged
        if e.agent.startswith("pip/") and e.path.endswith(".whl")
    }
    app_wheel, lib_wheel = built[APP_10].wheel, built[LIB_11].wheel
    assert fetched == {
        ("emilie/prod", app_wheel.name): app_wheel.stat().st_size,
        ("emilie/dev", lib_wheel.name): lib_wheel.stat().st_size,
    }


def test_pip_download_checks_the_sha256_of_the_json_page(server, clients, built, hosted, tmp_path):
    wheel = built[LIB_11].wheel
    sha256 = file_hashes(server.url, "emilie/dev", "lib")[wheel.name]
    assert sha256 == sha256_of(wheel)
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(f"lib==1.1 --hash=sha256:{sha256}\n")
    bad.write_text(f"lib==1.1 --hash=sha256:{sha256_of(built[LIB_10].wheel)}\n")
    index = ["--index-url", f"{server.url}/emilie/dev/+simple/"]
    download = ["download", "--no-cache-dir", "--no-deps", "--require-hashes", *index]
    clients.pip(*download, "-r", good, "-d", tmp_path / "good")
    assert sha256_of(tmp_path / "good" / wheel.name) == sha256
    refused = clients.pip(*download, "-r", bad, "-d", tmp_path / "bad", ok=False)
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in refused.stderr
    assert f"Got {sha256}" in squeezed(refused.stderr)
    assert not (tmp_path / "bad" / wheel.name).exists()


def test_uv_resolves_with_metadata_files_not_wheels(server, clients, hosted, tmp_path):
    venv = tmp_path / "uv-venv"
    clients.uv("venv", "--python", sys.executable, venv)
    window = LogWindow(server)
    index = f"{server.url}/emilie/dev/+simple/"
    result = clients.uv(
        "pip", "install", "--python", venv / "bin" / "python", "--index-url", index, "app"
    )
    assert "+ app==1.0" in result.stderr
    assert "+ lib==1.1" in result.stderr
    logged = window.requests()
    assert {
        "app-1.0-py3-none-any.whl.metadata",
        "lib-1.1-py3-none-any.whl.metadata",
    } <= filenames(logged, "uv/", ".whl.metadata")
    # Only the wheels it installs are downloaded: not lib 0.9 nor 1.0, and no sdist.
    assert filenames(logged, "uv/", ".whl") == {
        "app-1.0-py3-none-any.whl",
        "lib-1.1-py3-none-any.whl",
    }
    assert filenames(logged, "uv/", ".tar.gz") == set()


def test_index_without_bases_does_not_fall_back_to_root_pypi(server, clients, hosted, tmp_path):
    created = requests.put(f"{server.url}/sophie/solo", json={}, auth=("sophie", "1234"))
    assert created.status_code == 200, created.text
    assert created.json()["result"]["bases"] == []
    window = LogWindow(server)
    index = f"{server.url}/sophie/solo/+simple/"
    result = clients.pip(
        "install", "--no-cache-dir", "--target", tmp_path / "target", "--index-url", index, "app",
        ok=False,
    )  # fmt: skip
    assert "No matching distribution found for app" in result.stderr
    logged = window.requests()
    assert ("GET", "/sophie/solo/+simple/app/", 404) in {
        (e.method, e.path, e.status) for e in logged
    }
    assert not [e for e in logged if "root/pypi" in e.path]


# --- who may upload -----------------------------------------------------------------------


def test_acl_upload_lets_another_user_upload(server, emilie, clients, built, hosted):
    dev = f"{server.url}/emilie/dev/"
    files = built[TOOL_10].files
    refused = clients.twine(dev, "sophie", "1234", *files, ok=False)
    assert f"HTTPError: 403 Forbidden from {dev} no permission to submit" in squeezed(
        refused.output
    )
    assert requests.get(f"{server.url}/emilie/dev/sophies-tool").status_code == 404
    changed = emilie.run("index", "emilie/dev", "acl_upload+=sophie")
    assert "acl_upload=emilie,sophie" in changed.output
    accepted = clients.twine(dev, "sophie", "1234", *files)
    assert "Uploading sophies_tool-1.0-py3-none-any.whl" in accepted.output
    assert project_files(server.url, "emilie/dev", "sophies-tool") == {
        "1.0": {path.name for path in files}
    }


def test_anonymous_upload_gets_401_and_twine_says_so(server, clients, built, hosted):
    prod = f"{server.url}/emilie/prod/"
    refused = clients.twine(prod, "", "", built[LIB_11].wheel, ok=False)
    assert (
        f"HTTPError: 401 Unauthorized from {prod} "
        "no permission to upload to emilie/prod: log in first"
    ) in squeezed(refused.output)
    assert set(project_files(server.url, "emilie/prod", "lib")) == {"1.0"}


def test_non_volatile_index_keeps_the_first_file(server, clients, built, hosted):
    prod = f"{server.url}/emilie/prod/"
    original = built[LIB_10].wheel
    again = clients.twine(prod, "emilie", "1234", original, verbose=True)
    assert "200 Upload of identical file to non volatile index." in again.output
    changed = built[LIB_10_CHANGED].wheel
    assert changed.name == original.name
    assert sha256_of(changed) != sha256_of(original)
    refused = clients.twine(prod, "emilie", "1234", changed, ok=False)
    assert (
        f"HTTPError: 409 Conflict from {prod} {original.name} already exists in non-volatile index"
    ) in squeezed(refused.output)
    assert file_hashes(server.url, "emilie/prod", "lib")[original.name] == sha256_of(original)
