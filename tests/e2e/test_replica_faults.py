"""Replication between real ``cellar serve`` processes: pip through a replica, catching up,
``kill -9`` of either side, three replicas at once."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from cheesecellar.auth.secret import write_secret
from cheesecellar_fs.store import FsStorage
from conftest import CellarProcess
from conftest import clean_environ
from conftest import client_environ
from conftest import free_port

pytestmark = pytest.mark.e2e

FAST = ("--replica-poll-wait", "2")
JSON = {"Accept": "application/json", "Content-Type": "application/json"}


class Cluster:
    """A primary and its replicas as processes sharing one secret; each keeps its port
    across restarts, so a replica finds its primary again."""

    def __init__(self, basedir: Path) -> None:
        self.basedir = basedir
        self.secret = basedir / "secret" / "cellar-secret"
        self.secret.parent.mkdir(parents=True)
        write_secret(self.secret)
        self.ports: dict[str, int] = {}
        self.running: dict[str, CellarProcess] = {}

    def start(self, name: str, *args: str) -> CellarProcess:
        port = self.ports.setdefault(name, free_port())
        command = [sys.executable, "-m", "cheesecellar.cli", "serve", "--port", str(port)]
        command += ["--serverdir", str(self.basedir / name), "--threads", "8"]
        command += ["--secretfile", str(self.secret), *FAST, *args]
        logfile = self.basedir / f"{name}.log"
        with logfile.open("ab") as log:
            popen = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=clean_environ()
            )
        process = CellarProcess(f"http://127.0.0.1:{port}", self.basedir / name, logfile, popen)
        self.running[name] = process
        wait_until(lambda: answers(process), what=f"{name} to answer")
        return process

    def primary(self) -> CellarProcess:
        return self.start("primary", "--role", "primary", "--no-root-pypi")

    def replica(self, name: str = "replica") -> CellarProcess:
        url = f"http://127.0.0.1:{self.ports['primary']}"
        return self.start(name, "--role", "replica", "--primary-url", url)

    def kill(self, name: str) -> None:
        self.running.pop(name).stop(signal.SIGKILL)

    def stop_all(self) -> None:
        for name in list(self.running):
            process = self.running.pop(name)
            assert process.stop() == 0, process.log()


@pytest.fixture
def cluster(tmp_path):
    made = Cluster(tmp_path)
    yield made
    for process in made.running.values():
        process.stop(signal.SIGKILL)


def answers(process: CellarProcess) -> bool:
    if process.process.poll() is not None:
        pytest.fail(f"cellar serve exited with {process.process.returncode}:\n{process.log()}")
    try:
        return requests.get(f"{process.url}/+api", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def session_for(process: CellarProcess, user: str = "alice") -> requests.Session:
    session = requests.Session()
    session.headers.update(JSON)
    reply = session.post(f"{process.url}/+login", json={"user": user, "password": "pw"})
    reply.raise_for_status()
    token = reply.json()["result"]["password"]
    session.headers["X-Devpi-Auth"] = base64.b64encode(f"{user}:{token}".encode()).decode()
    return session


def make_index(process: CellarProcess, user: str = "alice") -> requests.Session:
    requests.put(f"{process.url}/{user}", json={"password": "pw"}, headers=JSON).raise_for_status()
    session = session_for(process, user)
    session.put(f"{process.url}/{user}/dev", json={"bases": []}).raise_for_status()
    return session


def serial_of(process: CellarProcess) -> int:
    return int(requests.get(f"{process.url}/+api", timeout=10).headers["X-Devpi-Serial"])


def status_of(process: CellarProcess) -> dict:
    return requests.get(f"{process.url}/+status", headers=JSON, timeout=10).json()["result"]


def wait_until(predicate, timeout: float = 60.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def in_sync(replica: CellarProcess, serial: int) -> bool:
    info = status_of(replica)
    return info["serial"] >= serial and info["files-pending"] == 0


def wheel_bytes(name: str, version: str, padding: int = 0) -> tuple[str, bytes]:
    """A minimal installable wheel; ``padding`` random bytes make it large."""
    import io
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{name}/padding.bin": os.urandom(padding),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist}/RECORD", record)
    return f"{name}-{version}-py3-none-any.whl", buffer.getvalue()


def upload(process: CellarProcess, name: str, version: str, padding: int = 0) -> bytes:
    filename, content = wheel_bytes(name, version, padding)
    fields = {":action": "file_upload", "name": name, "version": version}
    fields["sha256_digest"] = hashlib.sha256(content).hexdigest()
    reply = requests.post(
        f"{process.url}/alice/dev/",
        data=fields,
        files={"content": (filename, content, "application/octet-stream")},
        auth=("alice", "pw"),
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    return content


def store_digest(serverdir: Path) -> str:
    """Every record, blob row and blob content of a stopped server's store."""
    storage = FsStorage(serverdir)
    try:
        digest = hashlib.sha256()
        with storage.transaction() as tx:
            for key in tx.keys(""):
                digest.update(json.dumps([key, tx.get(key)], sort_keys=True).encode())
            paths = {
                change.path
                for serial in range(tx.at_serial + 1)
                for change in storage.changelog(serial).files
            }
            for path in sorted(paths):
                info = tx.file_info(path)
                if info is None:
                    continue
                with storage.open_file(path) as fp:
                    content = hashlib.sha256(fp.read()).hexdigest()
                assert content == info.sha256, f"{path} holds other content than its row says"
                digest.update(f"{path} {info.sha256} {info.size}".encode())
        return digest.hexdigest()
    finally:
        storage.close()


def test_an_upload_on_the_primary_installs_from_the_replica_with_pip(cluster, tmp_path):
    primary = cluster.primary()
    replica = cluster.replica()
    make_index(primary)
    upload(primary, "replipkg", "1.0")
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--target"]
    command += [str(tmp_path / "target"), "--index-url", f"{replica.url}/alice/dev/+simple/"]
    env = client_environ(tmp_path / "home")
    wait_until(lambda: in_sync(replica, serial_of(primary)), what="the replica")
    done = subprocess.run([*command, "replipkg"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "target" / "replipkg" / "__init__.py").read_text() == "VERSION = '1.0'\n"


def test_an_empty_replica_catches_up_on_1000_serials(cluster, capsys):
    primary = cluster.primary()
    session = make_index(primary)
    for number in range(1000):
        reply = session.patch(f"{primary.url}/alice/dev", json=[f"description=d{number}"])
        assert reply.status_code == 200, reply.text
    target = serial_of(primary)
    started = time.monotonic()
    replica = cluster.replica()
    wait_until(lambda: serial_of(replica) >= target, what="the catch-up")
    seconds = time.monotonic() - started
    with capsys.disabled():
        print(f"\ncatch-up of {target + 1} serials: {seconds:.2f} s (with start-up)")
    cluster.stop_all()
    assert store_digest(replica.serverdir) == store_digest(primary.serverdir)


def test_kill_9_of_the_primary_mid_stream_and_restart(cluster):
    primary = cluster.primary()
    session = make_index(primary)
    for number in range(20):
        upload(primary, f"pkg{number}", "1.0", padding=200_000)
        session.patch(f"{primary.url}/alice/dev", json=[f"description=d{number}"])
    replica = cluster.replica()
    wait_until(lambda: serial_of(replica) > 5, what="the first serials")
    cluster.kill("primary")
    primary = cluster.primary()
    for number in range(20, 30):
        upload(primary, f"pkg{number}", "1.0", padding=50_000)
    wait_until(lambda: in_sync(replica, serial_of(primary)), what="the replica")
    cluster.stop_all()
    assert store_digest(replica.serverdir) == store_digest(primary.serverdir)


def downloading(tmpdir: Path, timeout: float = 60.0) -> bool:
    """Wait (without sleeping: downloads are quick) until a download has a temp file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(name.startswith("blob-") for name in os.listdir(tmpdir)):
                return True
        except FileNotFoundError:
            pass
    return False


def test_kill_9_of_the_replica_mid_download_serves_no_corrupt_file(cluster):
    primary = cluster.primary()
    make_index(primary)
    contents = [upload(primary, f"big{n}", "1.0", padding=16_000_000) for n in range(6)]
    replica = cluster.replica()
    assert downloading(replica.serverdir / "+files" / ".tmp")
    cluster.kill("replica")
    for path in (replica.serverdir / "+files").rglob("*.whl"):
        assert path.read_bytes() in contents  # whole and verified, or absent
    replica = cluster.replica()
    for number, content in enumerate(contents):
        name = f"big{number}-1.0-py3-none-any.whl"
        page = requests.get(f"{replica.url}/alice/dev/+simple/big{number}/", timeout=30).text
        href = page.split('href="', 1)[1].split("#", 1)[0]
        url = requests.compat.urljoin(f"{replica.url}/alice/dev/+simple/big{number}/", href)
        got = requests.get(url, timeout=60)
        assert got.status_code == 200 and got.content == content, name
    wait_until(lambda: in_sync(replica, serial_of(primary)), what="the replica")
    cluster.stop_all()
    assert store_digest(replica.serverdir) == store_digest(primary.serverdir)


def test_three_replicas_at_once(cluster):
    primary = cluster.primary()
    replicas = [cluster.replica(f"replica{n}") for n in range(3)]
    make_index(primary)
    for number in range(5):
        upload(primary, f"pkg{number}", "1.0")
    relayed = make_index(replicas[0], "bob")  # a write through a replica reaches them all
    assert relayed.get(f"{replicas[0].url}/bob/dev").status_code == 200
    for replica in replicas:
        wait_until(lambda r=replica: in_sync(r, serial_of(primary)), what="every replica")
    polling = wait_until(lambda: len(status_of(primary)["polling_replicas"]) == 3 or None)
    assert polling
    cluster.stop_all()
    digests = {store_digest(process.serverdir) for process in [primary, *replicas]}
    assert len(digests) == 1
