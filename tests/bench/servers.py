"""Servers under test: how to initialise, start, probe and stop each one as a subprocess."""

from __future__ import annotations

import dataclasses
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

#: Seconds between two readiness probes.
POLL_INTERVAL = 0.01
#: Seconds a server may take to answer its first request before the run is abandoned.
READY_TIMEOUT = 60.0
#: Environment variables naming the virtualenvs of the devpi-server comparison builds.
DEVPI_VENV_ENV = "CELLAR_BENCH_DEVPI_VENV"
DEVPI_NOWEB_VENV_ENV = "CELLAR_BENCH_DEVPI_NOWEB_VENV"

SERVER_NAMES = ("cellar", "devpi", "devpi-noweb")


class ServerFailed(RuntimeError):
    """The server process exited or never answered ``GET /+api`` with 200."""


@dataclasses.dataclass(frozen=True)
class ServerKind:
    """One server implementation: its init command (if it needs one) and serve command."""

    name: str
    serve_exe: Path
    init_exe: Path | None
    extra_args: tuple[str, ...] = ()

    def init_command(self, serverdir: Path) -> list[str] | None:
        if self.init_exe is None:
            return None
        return [str(self.init_exe), "--serverdir", str(serverdir)]

    def serve_command(self, serverdir: Path, port: int, threads: int) -> list[str]:
        command = [str(self.serve_exe)]
        if self.init_exe is None:
            command.append("serve")
        command += ["--serverdir", str(serverdir), "--host", "127.0.0.1", "--port", str(port)]
        return [*command, "--threads", str(threads), "--offline-mode", *self.extra_args]


def cellar_kind() -> ServerKind:
    """The ``cellar`` console script of the running interpreter (no shell shims in between)."""
    script = Path(sysconfig.get_path("scripts")) / "cellar"
    if not script.exists():
        found = shutil.which("cellar")
        if found is None:
            raise ServerFailed("the 'cellar' command is not installed")
        script = Path(found)
    return ServerKind("cellar", script, None)


def devpi_kind(name: str, venv: str | None) -> ServerKind | None:
    """A devpi-server build from ``venv`` (its ``bin`` holds devpi-server and devpi-init)."""
    if venv:
        bindir = Path(venv) / "bin"
    elif name == "devpi" and shutil.which("devpi-server"):
        bindir = Path(shutil.which("devpi-server")).parent
    else:
        return None
    serve, init = bindir / "devpi-server", bindir / "devpi-init"
    if not (serve.exists() and init.exists()):
        return None
    return ServerKind(name, serve, init)


def resolve_kinds(names: list[str], devpi_venv: str | None, noweb_venv: str | None) -> list:
    """Turn server names into kinds; a devpi build that cannot be found is reported, not run."""
    kinds = []
    for name in names:
        if name == "cellar":
            kinds.append(cellar_kind())
            continue
        venv = devpi_venv if name == "devpi" else noweb_venv
        kind = devpi_kind(name, venv or os.environ.get(_venv_env(name)))
        if kind is None:
            print(f"skipping {name}: no virtualenv given (--{name}-venv or ${_venv_env(name)})")
        else:
            kinds.append(kind)
    return kinds


def kinds_from_args(args) -> list:
    """The server kinds a benchmark's ``--server``, ``--devpi-venv`` and
    ``--devpi-noweb-venv`` name; an empty list is reported on standard error."""
    names = list(SERVER_NAMES) if args.server == "all" else [args.server]
    kinds = resolve_kinds(names, args.devpi_venv, args.devpi_noweb_venv)
    if not kinds:
        print("nothing to benchmark", file=sys.stderr)
    return kinds


def _venv_env(name: str) -> str:
    return DEVPI_VENV_ENV if name == "devpi" else DEVPI_NOWEB_VENV_ENV


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_kib(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of ``pid`` in KiB from ``/proc/PID/status`` (VmRSS, VmHWM = peak RSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise ServerFailed(f"no {field} for pid {pid}")


def run_init(kind: ServerKind, serverdir: Path, log: Path) -> float:
    """Run the separate init command if the server has one; return its wall time."""
    command = kind.init_command(serverdir)
    if command is None:
        return 0.0
    started = time.perf_counter()
    with log.open("ab") as out:
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - started


@dataclasses.dataclass
class RunningServer:
    """A started server process and where it listens."""

    kind: ServerKind
    process: subprocess.Popen
    port: int
    ready_seconds: float
    rss_ready_kib: int
    peak_ready_kib: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(kind: ServerKind, serverdir: Path, threads: int, log: Path) -> RunningServer:
    """Start the server and wait for its first 200 on ``GET /+api``; measure time and RSS."""
    port = free_port()
    command = kind.serve_command(serverdir, port, threads)
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        ready = _wait_ready(process, port) - started
        rss = memory_kib(process.pid)
        peak = memory_kib(process.pid, "VmHWM")
    except BaseException:
        process.kill()
        process.wait()
        raise
    return RunningServer(kind, process, port, ready, rss, peak)


def _wait_ready(process: subprocess.Popen, port: int) -> float:
    deadline = time.perf_counter() + READY_TIMEOUT
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"server exited with {process.returncode} before it was ready")
        if _api_status(port) == 200:
            return time.perf_counter()
        time.sleep(POLL_INTERVAL)
    raise ServerFailed(f"no 200 on /+api within {READY_TIMEOUT} s")


def _api_status(port: int) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/+api", headers={"Accept": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


def tail(log: Path, lines: int = 20) -> str:
    """The last lines of a server log, for error messages."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
