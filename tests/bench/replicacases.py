"""The replication cases: a primary and a replica as processes, lag at a steady upload
rate, and an empty replica catching up."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import http.client
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path

import requests
import urllib3
from tests.bench.hostdata import USER
from tests.bench.hostdata import create_index
from tests.bench.hostdata import create_user_and_login
from tests.bench.hostdata import post_upload
from tests.bench.mirrorcases import server_env
from tests.bench.servers import RunningServer
from tests.bench.servers import ServerFailed
from tests.bench.servers import ServerKind
from tests.bench.servers import free_port
from tests.bench.servers import memory_kib
from tests.bench.wheels import build_wheel
from tests.bench.wheels import upload_form

#: Seconds a file may take to reach the replica before the upload counts as lost.
LAG_TIMEOUT = 30.0
#: Seconds a catch-up may take before it is abandoned.
CATCHUP_TIMEOUT = 600.0
#: Versions per project in the lag runs (devpi re-reads a project's versions per upload).
VERSIONS_PER_PROJECT = 30


@dataclasses.dataclass(frozen=True)
class Upload:
    """One wheel, encoded as twine posts it, and where it will be served."""

    body: bytes
    content_type: str
    relpath: str
    sha256: str
    size: int


def make_upload(index: str, project: str, version: str, payload: bytes = b"") -> Upload:
    filename, content = build_wheel(project, version, payload)
    data, files = upload_form(project, version, filename, content)
    body, content_type = urllib3.encode_multipart_formdata(
        [*data.items(), ("content", files["content"])]
    )
    sha = hashlib.sha256(content).hexdigest()
    relpath = f"{index}/+f/{sha[:3]}/{sha[3:16]}/{filename}"
    return Upload(body, content_type, relpath, sha, len(content))


# --- servers -----------------------------------------------------------------------------


@dataclasses.dataclass
class Node:
    server: RunningServer
    serverdir: Path
    started_at: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


def node_command(kind: ServerKind, serverdir: Path, port: int, role: str, secret: Path):
    """The serve command of a primary or replica (cellar initialises on first start)."""
    command = kind.serve_command(serverdir, port, 50)
    command.remove("--offline-mode")
    return [*command, "--role", role, "--secretfile", str(secret)]


def init_node(kind: ServerKind, serverdir: Path, log: Path, primary_url: str | None) -> None:
    """devpi needs ``devpi-init`` first; cellar initialises inside ``serve``."""
    if kind.init_exe is None:
        return
    command = [*kind.init_command(serverdir), "--no-root-pypi"]
    if primary_url:
        command += ["--role", "replica", "--primary-url", primary_url]
    with log.open("ab") as out:
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=server_env(), check=True)


def start_node(
    kind: ServerKind,
    serverdir: Path,
    log: Path,
    secret: Path,
    primary_url: str | None = None,
    extra: list[str] = (),
) -> Node:
    """A primary (``primary_url`` None) or a replica of ``primary_url``, once it answers."""
    init_node(kind, serverdir, log, primary_url)
    port = free_port()
    role = "replica" if primary_url else "primary"
    command = node_command(kind, serverdir, port, role, secret)
    if primary_url:
        command += ["--primary-url", primary_url]
        command += extra if kind.init_exe is None else []
    elif kind.init_exe is None:
        command.append("--no-root-pypi")
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=server_env())
    try:
        ready = _wait_ready(process, port) - started
    except BaseException:
        process.kill()
        process.wait()
        raise
    server = RunningServer(kind, process, port, ready, memory_kib(process.pid), 0)
    return Node(server, serverdir, started)


def _wait_ready(process: subprocess.Popen, port: int, timeout: float = 60.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"server exited with {process.returncode} before it was ready")
        try:
            reply = requests.get(f"http://127.0.0.1:{port}/+api", timeout=5)
            if reply.status_code == 200:
                return time.perf_counter()
        except requests.RequestException:
            pass
        time.sleep(0.01)
    raise ServerFailed(f"no 200 on /+api within {timeout} s")


def serial_of(url: str) -> int:
    return int(requests.get(f"{url}/+api", timeout=10).headers["X-Devpi-Serial"])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of ``pid`` so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_of(url: str) -> dict:
    reply = requests.get(f"{url}/+status", headers={"Accept": "application/json"}, timeout=10)
    return reply.json()["result"]


# --- lag ---------------------------------------------------------------------------------


class Watcher:
    """Polls the replica for one file until it serves the right content."""

    def __init__(self, replica_port: int, interval: float) -> None:
        self.port = replica_port
        self.interval = interval
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        return conn

    def _get(self, path: str) -> tuple[int, bytes, int | None]:
        for _attempt in range(2):
            conn = self._conn()
            try:
                conn.request("GET", path)
                reply = conn.getresponse()
                body = reply.read()
                serial = reply.getheader("X-Devpi-Serial")
                return reply.status, body, None if serial is None else int(serial)
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
        return 0, b"", None

    def watch(self, upload: Upload, committed_at: float, serial: int | None) -> dict:
        """Seconds from ``committed_at`` until the replica had ``serial`` and served the file."""
        serial_at = None
        deadline = committed_at + LAG_TIMEOUT
        while time.perf_counter() < deadline:
            status, body, seen = self._get("/" + upload.relpath)
            now = time.perf_counter()
            if serial_at is None and seen is not None and serial is not None and seen >= serial:
                serial_at = now
            if status == 200 and hashlib.sha256(body).hexdigest() == upload.sha256:
                serial_at = now if serial_at is None else serial_at
                return {"file": now - committed_at, "serial": serial_at - committed_at}
            time.sleep(self.interval)
        return {"file": None, "serial": None}


def lag_run(primary: Node, replica: Node, token: str, tag: str, rate: float, seconds: float,
            interval: float) -> dict:  # fmt: skip
    """Upload at ``rate`` per second for ``seconds``; time each file onto the replica."""
    index = f"{USER}/lag-{tag}"
    with requests.Session() as session:
        create_index(session, primary.url, token, index, [])
    count = max(1, round(rate * seconds))
    projects = [f"lag-{tag}-{n % VERSIONS_PER_PROJECT}" for n in range(count)]
    uploads = [make_upload(index, project, f"1.0.{n}") for n, project in enumerate(projects)]
    watcher = Watcher(replica.server.port, interval)
    url, auth = f"{primary.url}/{index}/", (USER, token)
    futures, late, errors = [], 0, 0
    with concurrent.futures.ThreadPoolExecutor(16) as pool, requests.Session() as session:
        began = time.perf_counter()
        for number, upload in enumerate(uploads):
            due = began + number / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            else:
                late += pause < -0.5 / rate
            reply = post_upload(session, url, (upload.body, upload.content_type), auth)
            committed_at = time.perf_counter()
            if reply.status_code != 200:
                errors += 1
                continue
            serial = reply.headers.get("X-Devpi-Serial")
            serial = None if serial is None else int(serial)
            futures.append(pool.submit(watcher.watch, upload, committed_at, serial))
        elapsed = time.perf_counter() - began
        outcomes = [future.result() for future in futures]
    return summarise_lag(outcomes, rate, count / elapsed, late, errors)


def summarise_lag(outcomes: list[dict], rate: float, achieved: float, late: int, errors: int):
    files = sorted(o["file"] * 1000 for o in outcomes if o["file"] is not None)
    serials = sorted(o["serial"] * 1000 for o in outcomes if o["serial"] is not None)
    return {
        "rate": rate,
        "achieved_rate": round(achieved, 2),
        "uploads": len(outcomes) + errors,
        "upload_errors": errors,
        "late_uploads": late,
        "lost": len(outcomes) - len(files),
        "file_ms": _percentiles(files),
        "serial_ms": _percentiles(serials),
        "file_lags_ms": [round(value, 2) for value in files],
    }


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    return {
        "p50": round(statistics.median(values), 2),
        "p90": round(values[round(0.90 * (len(values) - 1))], 2),
        "p99": round(values[round(0.99 * (len(values) - 1))], 2),
        "max": round(values[-1], 2),
        "min": round(values[0], 2),
        "n": len(values),
    }


def warm_up(primary: Node, replica: Node, token: str) -> None:
    """A few uploads before the clock, so that lazy imports and first writes are done."""
    lag_run(primary, replica, token, "warmup", 20.0, 0.5, 0.005)


# --- catch-up ----------------------------------------------------------------------------


def catchup_uploads(index: str, count: int, sizes: list[int], tag: str) -> list[Upload]:
    """``count`` wheels in projects of 10 versions, payload sizes cycling through ``sizes``."""
    payloads = {size: bytes(range(256)) * (size // 256) for size in set(sizes)}
    return [
        make_upload(index, f"{tag}-{n // 10}", f"1.{n % 10}", payloads[sizes[n % len(sizes)]])
        for n in range(count)
    ]


def fill_primary(primary: Node, token: str, index: str, uploads: list[Upload], clients=4):
    with requests.Session() as session:
        create_index(session, primary.url, token, index, [])
    url, auth = f"{primary.url}/{index}/", (USER, token)

    def post_all(chunk: list[Upload]) -> None:
        with requests.Session() as session:
            for upload in chunk:
                reply = post_upload(session, url, (upload.body, upload.content_type), auth)
                if reply.status_code != 200:
                    raise ServerFailed(f"upload to {index}: {reply.status_code} {reply.text}")

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(post_all, uploads[n::clients]) for n in range(clients)]:
            future.result()


def has_all_files(serverdir: Path, remaining: set[str], uploads: dict[str, int]) -> bool:
    """Drop from ``remaining`` every relpath complete under ``serverdir/+files``."""
    for relpath in list(remaining):
        try:
            if (serverdir / "+files" / relpath).stat().st_size == uploads[relpath]:
                remaining.discard(relpath)
        except FileNotFoundError:
            pass
    return not remaining


def replica_idle(kind: ServerKind, url: str, primary_serial: int) -> bool:
    """The replica has the primary's serial and nothing left in its file queue."""
    status = status_of(url)
    if status["serial"] < primary_serial:
        return False
    if kind.init_exe is None:
        return status.get("file-queue") == 0 and status.get("files-pending") == 0
    metrics = {m[0]: m[2] for m in status.get("metrics", ())}
    return metrics.get("devpi_server_replica_file_download_queue_size", 0) == 0


def catchup_run(kind, primary: Node, secret: Path, workdir: Path, uploads: list[Upload],
                name: str, extra: list[str] = ()) -> dict:  # fmt: skip
    """Start an empty replica of ``primary``; time it until it has every serial and file."""
    primary_serial = serial_of(primary.url)
    primary_cpu = cpu_seconds(primary.server.pid)
    expected = {upload.relpath: upload.size for upload in uploads}
    on_primary = set(expected)  # placed on disk just after their commit
    deadline = time.perf_counter() + 60.0
    while not has_all_files(primary.serverdir, on_primary, expected):
        if time.perf_counter() > deadline:
            raise ServerFailed(f"the primary's +files tree lacks {sorted(on_primary)[:3]}")
        time.sleep(0.1)
    serverdir = workdir / f"{kind.name}-{name}"
    log = workdir / f"{kind.name}-{name}.log"
    replica = start_node(kind, serverdir, log, secret, primary.url, extra)
    remaining = set(expected)
    serial_at = None
    try:
        deadline = replica.started_at + CATCHUP_TIMEOUT
        while time.perf_counter() < deadline:
            if serial_at is None and serial_of(replica.url) >= primary_serial:
                serial_at = time.perf_counter()
            if has_all_files(serverdir, remaining, expected) and replica_idle(
                kind, replica.url, primary_serial
            ):
                break
            time.sleep(0.02)
        else:
            raise ServerFailed(f"the replica did not catch up within {CATCHUP_TIMEOUT} s")
        done = time.perf_counter()
        cpu = {"replica": cpu_seconds(replica.server.pid)}
        cpu["primary"] = cpu_seconds(primary.server.pid)
    finally:
        replica.server.stop()
    figures = catchup_figures(replica, primary_serial, uploads, serial_at, done, name)
    figures["cpu_seconds"] = {
        "replica": round(cpu["replica"], 2),
        "primary": round(cpu["primary"] - primary_cpu, 2),
    }
    return figures


def catchup_figures(replica: Node, primary_serial, uploads, serial_at, done, name) -> dict:
    started = replica.started_at
    seconds = done - started
    megabytes = sum(upload.size for upload in uploads) / 1e6
    return {
        "case": name,
        "serials": primary_serial + 1,
        "files": len(uploads),
        "megabytes": round(megabytes, 1),
        "ready_seconds": round(replica.server.ready_seconds, 3),
        "serials_seconds": round(serial_at - started, 3),
        "seconds": round(seconds, 3),
        "serials_per_second": round((primary_serial + 1) / seconds, 1),
        "serials_per_second_after_ready": round(
            (primary_serial + 1) / (seconds - replica.server.ready_seconds), 1
        ),
        "mb_per_second": round(megabytes / seconds, 1),
    }


def login(primary: Node) -> str:
    with requests.Session() as session:
        return create_user_and_login(session, primary.url)
