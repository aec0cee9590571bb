"""The site ``cellar gen-config`` writes, run by a real nginx in front of a real server."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from tests.functional.distfiles import upload
from tests.functional.distfiles import wheel
from tests.upstream.catalog import seed_catalog
from tests.upstream.server import UpstreamServer

from cheesecellar.testing import CellarSession
from conftest import CellarProcess
from conftest import clean_environ
from conftest import client_environ
from conftest import free_port
from conftest import start_cellar_process

NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(path, os.X_OK)), None
)
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx)"
    ),
]

START_TIMEOUT = 30
CLIENT_TIMEOUT = 120
#: The request line of nginx's default ("combined") log format.
NGINX_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) ')
DEMO = wheel("genconfig-demo", "1.0", payload=b"ANSWER = 42\n")


@dataclasses.dataclass
class Nginx:
    """nginx in the foreground, with its pid, logs and temp files under ``prefix``."""

    prefix: Path
    url: str
    process: subprocess.Popen

    def requests_logged(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request in nginx's access log so far."""
        lines = (self.prefix / "access.log").read_text().splitlines()
        found = [NGINX_REQUEST.search(line) for line in lines]
        return [(m["method"], m["path"], int(m["status"])) for m in found if m]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def harness_config(prefix: Path, site: Path) -> Path:
    """An nginx.conf that runs unprivileged under ``prefix`` and includes the site."""
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)
    # As root, the workers would become "nobody", who cannot enter pytest's 0700 tmp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    text = f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {site};
}}
"""
    config = prefix / "nginx.conf"
    config.write_text(text)
    return config


def nginx_command(prefix: Path, config: Path, *args: str) -> list[str]:
    return [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(config), *args]


def start_nginx(prefix: Path, config: Path, port: int) -> Nginx:
    command = nginx_command(prefix, config, "-g", "daemon off;")
    with (prefix / "stderr.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors = (prefix / "error.log").read_text(errors="replace")
            pytest.fail(f"nginx exited with {process.returncode}:\n{errors}")
        try:
            requests.get(url + "/+api", timeout=5)
            return Nginx(prefix, url, process)
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"nginx did not answer within {START_TIMEOUT} s")


def gen_config(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cheesecellar.cli", "gen-config", *args]
    return subprocess.run(command, env=clean_environ(), capture_output=True, text=True, timeout=60)


@dataclasses.dataclass
class Deployment:
    server: CellarProcess
    nginx: Nginx
    site: Path

    @property
    def port(self) -> str:
        return self.server.url.rsplit(":", 1)[1]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    """A cellar serve mirroring a local upstream, behind nginx with the generated site."""
    base = tmp_path_factory.mktemp("genconfig-nginx")
    upstream = UpstreamServer(seed_catalog()).start()
    serverdir = base / "server dir"  # a space: the site must quote the path
    init = [sys.executable, "-m", "cheesecellar.cli", "init", "--serverdir", str(serverdir)]
    init += ["--mirror-url", upstream.index_url, "--root-passwd", "rootpw"]
    done = subprocess.run(init, env=clean_environ(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    server = start_cellar_process(
        serverdir, base / "server.log", "--request-timeout", "2", access_log=base / "access.log"
    )
    port = free_port()
    generated = gen_config(
        *("--serverdir", str(serverdir), "--port", server.url.rsplit(":", 1)[1]),
        *("--listen", f"127.0.0.1:{port}", "--only", "nginx", "--output", str(base / "out")),
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    site = base / "out" / "nginx-cellar.conf"
    prefix = base / "nginx"
    prefix.mkdir()
    nginx = start_nginx(prefix, harness_config(prefix, site), port)
    try:
        yield Deployment(server, nginx, site)
    finally:
        nginx.stop()
        upstream.stop()
        assert server.stop() == 0, server.log()


def run_client(home: Path, *command: str | Path) -> subprocess.CompletedProcess:
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(part) for part in command],
        env=client_environ(home, PIP_NO_CACHE_DIR="1"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
    )
    assert done.returncode == 0, f"$ {' '.join(map(str, command))}\n{done.stdout}{done.stderr}"
    return done


def server_paths(server: CellarProcess, method: str = "GET") -> list[str]:
    """Paths the server's access log shows for ``method``, after a marker request of ours
    (a request's line is written when its response is done)."""
    marker = f"/+api?marker={time.monotonic_ns()}"
    requests.get(server.url + marker, timeout=10).raise_for_status()
    deadline = time.monotonic() + 10
    while True:
        logged = server.requests_logged()
        if any(entry.path == marker for entry in logged):
            return [entry.path for entry in logged if entry.method == method]
        assert time.monotonic() < deadline, f"{marker} never reached the server's log"
        time.sleep(0.05)


def nginx_logged(nginx: Nginx, filename: str, method: str, status: int) -> bool:
    """Whether nginx's log shows ``method`` of ``filename`` answered with ``status``,
    waiting a moment for the line (written as the request ends)."""
    wanted = (method, status)
    deadline = time.monotonic() + 10
    while True:
        logged = nginx.requests_logged()
        if any((m, code) == wanted and path.endswith(filename) for m, path, code in logged):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def wait_for_file(path: Path) -> None:
    """Files reach the disk just after their commit."""
    deadline = time.monotonic() + 10
    while not path.is_file():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def nginx_test(prefix: Path) -> None:
    """``nginx -t`` on the harness in ``prefix``: the site must pass."""
    command = nginx_command(prefix, prefix / "nginx.conf", "-t")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_nginx_accepts_the_site(deployment):
    nginx_test(deployment.nginx.prefix)
    assert f'root "{deployment.server.serverdir}/+files";' in deployment.site.read_text()


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=pypi.example.com", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.mark.parametrize(
    "variant", ["https", "path-prefix", "memory-storage", "replica", "ipv6", "server-names"]
)
def test_nginx_accepts_every_variant(tmp_path, variant):
    args = {
        "path-prefix": ["--outside-url", "http://example.com/pypi/cellar/"],
        "memory-storage": ["--storage", "memory"],
        "replica": ["--role", "replica", "--primary-url", "http://p:3141", "--secretfile", "/s"],
        "ipv6": ["--host", "::"],
        "server-names": ["--server-name", "pypi.example.com pypi"],
    }.get(variant, [])
    if variant == "https":
        if shutil.which("openssl") is None:
            pytest.skip("no openssl to make a certificate with")
        cert, key = self_signed(tmp_path)
        args = ["--outside-url", "https://pypi.example.com/", "--ssl-certificate", str(cert)]
        args += ["--ssl-certificate-key", str(key)]
    out = tmp_path / "out"
    done = gen_config(
        "--serverdir", str(tmp_path / "a dir"), "--listen", f"127.0.0.1:{free_port()}",
        "--only", "nginx", "--output", str(out), *args,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    harness_config(prefix, out / "nginx-cellar.conf")
    nginx_test(prefix)


def test_an_upload_through_nginx_installs_from_disk(deployment, tmp_path):
    url = deployment.nginx.url
    with CellarSession(url) as session:
        session.login("root", "rootpw")
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
        session.login("alice", "alicepw")
        session.put("/alice/dev", json={"bases": ""}).raise_for_status()
    dist = tmp_path / DEMO.filename
    dist.write_bytes(DEMO.content)
    home = tmp_path / "home"
    run_client(
        home, sys.executable, "-m", "twine", "upload", "--repository-url", f"{url}/alice/dev/",
        "-u", "alice", "-p", "alicepw", "--non-interactive", "--disable-progress-bar", dist,
    )  # fmt: skip
    relpath = f"alice/dev/+f/{DEMO.sha256[:3]}/{DEMO.sha256[3:16]}/{DEMO.filename}"
    wait_for_file(deployment.server.serverdir / "+files" / relpath)
    target = tmp_path / "target"
    run_client(
        home, sys.executable, "-m", "pip", "install", "--target", target,
        "--index-url", f"{url}/alice/dev/+simple/", "genconfig-demo==1.0",
    )  # fmt: skip
    assert (target / "genconfig_demo" / "__init__.py").read_text() == "ANSWER = 42\n"
    # pip fetched the wheel (and its .metadata) from nginx; the server never saw those GETs.
    assert nginx_logged(deployment.nginx, DEMO.filename, "GET", 200)
    assert not [path for path in server_paths(deployment.server) if DEMO.filename in path]
    reply = requests.get(f"{url}/{relpath}", timeout=10)
    assert reply.content == DEMO.content
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.headers["Cache-Control"] == "max-age=365000000, immutable, public"
    # nginx's ETag (mtime and size) instead of the server's sha256.
    assert DEMO.sha256 not in reply.headers["ETag"]
    metadata = requests.get(f"{url}/{relpath}.metadata", timeout=10)
    assert metadata.content == DEMO.metadata


def test_a_mirror_file_not_cached_yet_comes_from_the_server(deployment, tmp_path):
    url = deployment.nginx.url
    filename = "idna-3.7-py3-none-any.whl"
    run_client(
        tmp_path / "home", sys.executable, "-m", "pip", "download", "--no-deps",
        "--dest", tmp_path / "dl", "--index-url", f"{url}/root/pypi/+simple/", "idna==3.7",
    )  # fmt: skip
    content = (tmp_path / "dl" / filename).read_bytes()
    fetched = [path for path in server_paths(deployment.server) if path.endswith(filename)]
    assert len(fetched) == 1, fetched  # not on disk yet: nginx asked the server
    sha256 = hashlib.sha256(content).hexdigest()
    stored = Path("root/pypi/+f", sha256[:3], sha256[3:16], filename)
    wait_for_file(deployment.server.serverdir / "+files" / stored)
    again = requests.get(f"{url}/{stored}", timeout=10)
    assert again.content == content
    assert sha256 not in again.headers["ETag"]  # from disk now
    assert [path for path in server_paths(deployment.server) if path.endswith(filename)] == fetched


def test_pages_through_nginx_name_the_proxy(deployment):
    url = deployment.nginx.url
    page = requests.get(f"{url}/root/pypi", headers={"Accept": "text/html"}, timeout=30)
    page.raise_for_status()
    links = re.findall(r'(?:href|src)="([^"]+)"', page.text)
    absolute = [link for link in links if "://" in link]
    assert f"{url}/root" in absolute, links
    assert all(link.startswith(url + "/") for link in absolute if "127.0.0.1" in link), links
    assert deployment.server.url not in page.text
    api = requests.get(f"{url}/+api", timeout=10).json()["result"]
    assert api["login"] == f"{url}/+login"
    moved = requests.get(f"{url}/root/pypi/+simple/IDNA", allow_redirects=False, timeout=30)
    assert moved.is_redirect, moved.status_code
    assert moved.headers["Location"].startswith(url + "/")


def test_json_and_writes_on_a_file_url_reach_the_server(deployment):
    url = deployment.nginx.url
    dist = wheel("genconfig-gone", "1.0")
    relpath = f"bob/dev/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}/{dist.filename}"
    with CellarSession(url) as session:
        session.login("root", "rootpw")
        session.put("/bob", json={"password": "bobpw"}).raise_for_status()
        session.login("bob", "bobpw")
        session.put("/bob/dev", json={"bases": ""}).raise_for_status()
        upload(f"{url}/bob/dev/", dist, ("bob", "bobpw")).raise_for_status()
        wait_for_file(deployment.server.serverdir / "+files" / relpath)
        meta = session.get(f"/{relpath}")  # Accept: application/json
        assert meta.json()["result"]["hashes"] == {"sha256": dist.sha256}
        session.delete(f"/{relpath}").raise_for_status()
    deadline = time.monotonic() + 10
    while requests.get(f"{url}/{relpath}", timeout=10).status_code != 404:
        assert time.monotonic() < deadline, "the removed file is still served"
        time.sleep(0.05)
    assert nginx_logged(deployment.nginx, dist.filename, "DELETE", 200)
    assert not (deployment.server.serverdir / "+files" / relpath).exists()


def test_a_site_under_a_path_prefix(deployment, tmp_path):
    """An outside URL with a path: nginx answers under it and still sends files itself."""
    port = free_port()
    outside = f"http://127.0.0.1:{port}/pkgs/cellar"
    generated = gen_config(
        "--serverdir", str(deployment.server.serverdir), "--port", deployment.port,
        "--outside-url", outside, "--only", "nginx", "--output", str(tmp_path / "out"),
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    nginx = start_nginx(
        prefix, harness_config(prefix, tmp_path / "out" / "nginx-cellar.conf"), port
    )
    try:
        dist = wheel("genconfig-prefixed", "1.0")
        with CellarSession(deployment.server.url) as session:
            session.login("root", "rootpw")
            session.put("/carol", json={"password": "carolpw"}).raise_for_status()
            session.login("carol", "carolpw")
            session.put("/carol/dev", json={"bases": ""}).raise_for_status()
        upload(f"{outside}/carol/dev/", dist, ("carol", "carolpw")).raise_for_status()
        relpath = f"carol/dev/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}/{dist.filename}"
        wait_for_file(deployment.server.serverdir / "+files" / relpath)
        assert requests.get(f"{outside}/+api", timeout=10).json()["result"]["login"] == (
            f"{outside}/+login"
        )
        reply = requests.get(f"{outside}/{relpath}", timeout=10)
        assert reply.content == dist.content
        assert dist.sha256 not in reply.headers["ETag"]  # sent by nginx from disk
        assert not [path for path in server_paths(deployment.server) if dist.filename in path]
        page = requests.get(f"{outside}/carol/dev/+simple/genconfig-prefixed/", timeout=10)
        assert dist.filename in page.text
        assert requests.get(outside, timeout=10).status_code == 200
    finally:
        nginx.stop()
