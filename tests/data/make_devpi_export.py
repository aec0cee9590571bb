"""Make ``tests/data/devpi-export``: the export of a small, known devpi-server state.

The checked-in export was made by a real devpi-server; this script made it. Run it from
the repository root, with nothing reaching the internet:

    python -m tests.data.make_devpi_export --devpi-bin VENV/bin

- ``VENV`` is a virtualenv holding devpi-server and devpi-web. The data was made with
  devpi-server 6.20.3 and devpi-web 5.1.1 (Python 3.11).
- This interpreter runs the clients: devpi-client (7.3.0 made the data), twine and pip.
- The upstream of ``root/pypi`` is the local fake PyPI of ``tests/upstream``; the
  devpi-server is started with that mirror and nothing else.

devpi-server 6 has no ``uploadtrigger_jenkins`` key of its own; the devpi-jenkins plugin
adds it. A launcher registers a plugin with the same key, so the export holds the key as
an installed devpi-jenkins would leave it (unset on the indexes that do not use it).

The script writes ``with-mirror/`` (``devpi-export --include-mirrored-files``) and
``without-mirror/`` (plain ``devpi-export``) and replaces what was there before. What the
state holds is listed in ``tests/data/devpi-export/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from tests.functional.distfiles import doczip
from tests.functional.distfiles import sdist
from tests.functional.distfiles import wheel
from tests.upstream.catalog import Catalog
from tests.upstream.server import UpstreamServer

TARGET = Path(__file__).parent / "devpi-export"
PASSWORDS = {"root": "rootpw", "alice": "alicepw", "bob": "bobpw"}
JENKINS_URL = "http://127.0.0.1:9/jenkins/job/{pkgname}/build"
START_TIMEOUT = 60
#: Where devpi served each file of the state, next to the two exports.
LINKS_FILE = "devpi-links.json"
LINKED = {"alice/dev": ["hello-world"], "alice/prod": ["hello-world"], "root/pypi": ["idna"]}
LAUNCHER = '''
import sys
from devpi_server.config import get_pluginmanager
from pluggy import HookimplMarker

hookimpl = HookimplMarker("devpiserver")


class JenkinsKey:
    """The index key devpi-jenkins adds (devpi-jenkins itself is not installed)."""

    @hookimpl
    def devpiserver_indexconfig_defaults(self, index_type):
        return {"uploadtrigger_jenkins": None} if index_type == "stage" else {}


pm = get_pluginmanager()
pm.register(JenkinsKey())
command, argv = sys.argv[1], sys.argv[1:]
if command == "server":
    from devpi_server.main import _main
    sys.exit(_main(pm, argv))
from devpi_server.importexport import export
sys.exit(export(pm, argv))
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_env(home: Path) -> dict[str, str]:
    """An environment for devpi-client, twine and pip that reads no configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "DEVPI_", "TWINE_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def upstream_catalog() -> Catalog:
    """What the fake PyPI offers: a dependency of hello-world 1.1, and one more project."""
    catalog = Catalog()
    catalog.add("idna", "3.7", requires_python=">=3.5")
    catalog.add("certifi", "2024.7.4", requires_python=">=3.6")
    return catalog


def build_dists(distdir: Path) -> dict[str, Path]:
    """Tiny release files of ``Hello_World`` (a name that needs normalising)."""
    extra = {"summary": "Hello from the devpi export", "requires_python": ">=3.8"}
    built = {
        "sdist-0.9": sdist("Hello_World", "0.9", **extra),
        "sdist-1.0": sdist("Hello_World", "1.0", **extra),
        "wheel-1.0": wheel("Hello_World", "1.0", **extra),
        "wheel-1.1": wheel("Hello_World", "1.1", requires_dist=["idna>=3"], **extra),
    }
    distdir.mkdir()
    paths = {}
    for key, dist in built.items():
        paths[key] = distdir / dist.filename
        paths[key].write_bytes(dist.content)
    docs = {"index.html": b"<h1>Hello World</h1><p>greeting documentation</p>"}
    paths["docs-1.0"] = distdir / "Hello_World-1.0.doc.zip"
    paths["docs-1.0"].write_bytes(doczip(docs))
    return paths


class DevpiServer:
    """A devpi-server process on a fresh server directory, started through the launcher."""

    def __init__(self, bindir: Path, workdir: Path) -> None:
        self.bindir = bindir
        self.serverdir = workdir / "server"
        self.launcher = workdir / "launcher.py"
        self.launcher.write_text(LAUNCHER)
        self.log = workdir / "devpi-server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def devpi(self, program: str, *args: str) -> None:
        python = str(self.bindir / "python")
        command = [python, str(self.launcher), program, *args]
        if program == "init":
            command = [str(self.bindir / "devpi-init"), *args]
        with self.log.open("ab") as log:
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True)

    def start(self) -> None:
        self.devpi(
            "init", "--serverdir", str(self.serverdir), "--no-root-pypi",
            "--root-passwd", PASSWORDS["root"],
        )  # fmt: skip
        python = str(self.bindir / "python")
        command = [python, str(self.launcher), "server", "--serverdir", str(self.serverdir)]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(self.url + "/+api", timeout=2).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise SystemExit(f"devpi-server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    def export(self, target: Path, *options: str) -> None:
        self.devpi("export", "--serverdir", str(self.serverdir), *options, str(target))


class Clients:
    """devpi-client, twine and pip, each isolated in a home of its own."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir
        home = workdir / "home"
        home.mkdir()
        self.env = client_env(home)
        self.clientdir = workdir / "client"

    def devpi(self, *args: str) -> str:
        command = [sys.executable, "-m", "devpi", "--clientdir", str(self.clientdir), *args]
        return run(command, self.env)

    def twine(self, user: str, index: str, *files: Path) -> None:
        command = [sys.executable, "-m", "twine", "upload", "--non-interactive"]
        command += ["--repository-url", f"{self.url}/{index}/", "-u", user]
        command += ["-p", PASSWORDS[user], *(str(path) for path in files)]
        run(command, self.env)

    def pip_install(self, index: str, requirement: str) -> None:
        target = self.workdir / "installed"
        command = [sys.executable, "-m", "pip", "install", "--target", str(target)]
        command += ["--no-cache-dir", "--index-url", f"{self.url}/{index}/+simple/", requirement]
        run(command, self.env)

    def login(self, user: str) -> None:
        self.devpi("login", user, "--password", PASSWORDS[user])

    def file_url(self, index: str, project: str, version: str, filename: str) -> str:
        reply = requests.get(
            f"{self.url}/{index}/{project}/{version}", headers={"Accept": "application/json"}
        )
        reply.raise_for_status()
        links = reply.json()["result"]["+links"]
        return next(link["href"] for link in links if link["href"].endswith("/" + filename))


def toxresult() -> dict:
    """A result as ``tox --result-json`` writes it, which ``devpi test`` uploads."""
    return {
        "reportversion": "1",
        "toxversion": "4.23.2",
        "platform": "linux",
        "host": "ci-worker-1",
        "installpkg": {"type": "file", "basename": "Hello_World-1.0-py3-none-any.whl"},
        "testenvs": {
            "py311": {
                "python": {"version": "3.11.7 (main) [GCC 12.2.0]", "version_info": [3, 11, 7]},
                "test": [{"command": ["pytest"], "retcode": 0, "output": "1 passed"}],
            }
        },
    }


def make_state(server: DevpiServer, clients: Clients, dists: dict[str, Path], upstream) -> None:
    """Users, indexes, uploads, a doc zip, a tox result, a removal, a push, a cached file."""
    clients.devpi("use", server.url)
    clients.login("root")
    clients.devpi(
        "index", "-c", "root/pypi", "type=mirror", f"mirror_url={upstream.index_url}",
        "volatile=False", "title=PyPI", "mirror_cache_expiry=600",
        "mirror_web_url_fmt=https://pypi.org/project/{name}/",
    )  # fmt: skip
    clients.devpi(
        "user", "-c", "alice", f"password={PASSWORDS['alice']}", "email=alice@example.com",
        "title=Alice Liddell", "description=Maintains the hello packages",
    )  # fmt: skip
    clients.devpi("user", "-c", "bob", f"password={PASSWORDS['bob']}", "email=bob@example.com")
    clients.login("alice")
    clients.devpi(
        "index", "-c", "alice/prod", "volatile=False", "title=Alice's releases",
        "description=Released packages only",
    )  # fmt: skip
    clients.devpi(
        "index", "-c", "alice/dev", "bases=alice/prod,root/pypi", "volatile=True",
        "acl_upload=alice,bob", "acl_toxresult_upload=alice,:AUTHENTICATED:",
        "mirror_whitelist=Hello_World", "mirror_whitelist_inheritance=union",
        f"uploadtrigger_jenkins={JENKINS_URL}", "title=Alice's development index",
        "custom_data=team qa",
    )  # fmt: skip
    clients.devpi("use", "alice/dev")
    clients.devpi("upload", str(dists["sdist-0.9"]))
    clients.devpi("upload", str(dists["sdist-1.0"]), str(dists["wheel-1.0"]))
    clients.devpi("upload", str(dists["docs-1.0"]))
    clients.devpi("remove", "-y", "hello-world==0.9")
    clients.twine("bob", "alice/dev", dists["wheel-1.1"])
    url = clients.file_url("alice/dev", "hello-world", "1.0", dists["wheel-1.0"].name)
    reply = requests.post(url, json=toxresult(), auth=("alice", PASSWORDS["alice"]))
    reply.raise_for_status()
    clients.devpi("push", "hello-world==1.0", "alice/prod")
    clients.login("bob")
    clients.devpi("index", "-c", "bob/scratch", "bases=alice/prod")
    clients.pip_install("alice/dev", "hello-world==1.1")


def collect_links(url: str) -> dict:
    """Every file link devpi shows, by index, project and version: where the imported
    server must serve the same files."""
    links: dict = {}
    for index, projects in LINKED.items():
        for project in projects:
            reply = requests.get(f"{url}/{index}/{project}", headers={"Accept": "application/json"})
            reply.raise_for_status()
            for version, verdata in reply.json()["result"].items():
                links.setdefault(index, {}).setdefault(project, {})[version] = [
                    {"rel": link["rel"], "path": link["href"].removeprefix(url + "/"),
                     "hash_spec": link.get("hash_spec", "")}
                    for link in verdata.get("+links", ())
                ]  # fmt: skip
    return links


def replace_export(server: DevpiServer, workdir: Path) -> None:
    """Export twice into the work directory, then swap the results into place."""
    staged = workdir / "export"
    server.export(staged / "with-mirror", "--include-mirrored-files")
    server.export(staged / "without-mirror")
    for name in ("with-mirror", "without-mirror"):
        data = json.loads((staged / name / "dataindex.json").read_text())
        if data.get("dumpversion") != "2":
            raise SystemExit(f"{name}: unexpected dumpversion {data.get('dumpversion')!r}")
        shutil.rmtree(TARGET / name, ignore_errors=True)
        shutil.copytree(staged / name, TARGET / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--devpi-bin",
        type=Path,
        required=True,
        help="bin directory of a virtualenv with devpi-server and devpi-web",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="devpi-export-") as tmp:
        workdir = Path(tmp)
        dists = build_dists(workdir / "dist")
        server = DevpiServer(args.devpi_bin.resolve(), workdir)
        with UpstreamServer(upstream_catalog()) as upstream:
            server.start()
            try:
                make_state(server, Clients(server.url, workdir), dists, upstream)
                links = collect_links(server.url)
            finally:
                server.stop()
        replace_export(server, workdir)
    (TARGET / LINKS_FILE).write_text(json.dumps(links, indent=2, sort_keys=True) + "\n")
    print(f"wrote {TARGET / 'with-mirror'} and {TARGET / 'without-mirror'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
