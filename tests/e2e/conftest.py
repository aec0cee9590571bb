"""End-to-end fixtures: a real ``cellar serve`` process and the real ``devpi`` client."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from packages import DistBuilder

#: Seconds a server gets to start answering, and to exit after a signal.
START_TIMEOUT = 30
STOP_TIMEOUT = 15


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without settings that would steer a server or client."""
    prefixes = ("CELLAR_", "DEVPI_", "PIP_", "UV_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra)
    return env


@dataclasses.dataclass
class CellarProcess:
    """A ``cellar serve`` subprocess; ``url`` has no trailing slash."""

    url: str
    serverdir: Path
    logfile: Path
    process: subprocess.Popen
    access_log: Path | None = None

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")

    def requests_logged(self) -> list[LoggedRequest]:
        """The requests in the access log so far, oldest first."""
        assert self.access_log is not None, "started without --access-log"
        return [parse_access_line(line) for line in self.access_log.read_text().splitlines()]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` and return the exit code once the process has ended."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@dataclasses.dataclass(frozen=True)
class LoggedRequest:
    """One line of the server's access log."""

    method: str
    path: str
    status: int
    size: int
    agent: str


#: address - - [time] "METHOD TARGET PROTOCOL" STATUS BYTES "REFERER" "AGENT" DURATIONms
ACCESS_LINE = re.compile(
    r'(?P<addr>\S+) - - \[[^\]]+\] "(?P<method>\S+) (?P<path>\S+) [^"]*" '
    r'(?P<status>\d{3}) (?P<size>\d+) "(?:[^"\\]|\\.)*" "(?P<agent>(?:[^"\\]|\\.)*)" '
    r"\d+\.\dms"
)


def parse_access_line(line: str) -> LoggedRequest:
    found = ACCESS_LINE.fullmatch(line)
    assert found, f"not an access log line: {line!r}"
    return LoggedRequest(
        found["method"], found["path"], int(found["status"]), int(found["size"]), found["agent"]
    )


def start_cellar_process(
    serverdir: Path, logfile: Path, *args: str, access_log: Path | None = None
) -> CellarProcess:
    """Run ``cellar serve`` on a free port and wait until ``/+api`` answers."""
    port = free_port()
    command = [sys.executable, "-m", "cheesecellar.cli", "serve"]
    command += ["--serverdir", str(serverdir), "--port", str(port), "--threads", "4", *args]
    if access_log is not None:
        command += ["--access-log", str(access_log)]
    with logfile.open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=clean_environ()
        )
    url = f"http://127.0.0.1:{port}"
    server = CellarProcess(url, serverdir, logfile, process, access_log)
    _wait_until_answering(server)
    return server


def _wait_until_answering(server: CellarProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"cellar serve exited with {server.process.returncode}:\n{server.log()}")
        try:
            if requests.get(server.url + "/+api", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    pytest.fail(f"cellar serve did not answer within {START_TIMEOUT} s:\n{server.log()}")


def _serve_until_teardown(basedir: Path, access_log: bool = False) -> Iterator[CellarProcess]:
    server = start_cellar_process(
        basedir / "server",
        basedir / "server.log",
        "--offline-mode",
        access_log=basedir / "access.log" if access_log else None,
    )
    yield server
    returncode = server.stop()
    assert returncode == 0, server.log()


@pytest.fixture(scope="module")
def cellar_process(tmp_path_factory) -> Iterator[CellarProcess]:
    """A real ``cellar serve`` shared by a test module; must exit 0 on SIGTERM at the end.

    Tests sharing it should use user names of their own.
    """
    yield from _serve_until_teardown(tmp_path_factory.mktemp("cellar-process"))


@pytest.fixture
def fresh_cellar_process(tmp_path) -> Iterator[CellarProcess]:
    """A real ``cellar serve`` on a new server directory, for this test alone."""
    yield from _serve_until_teardown(tmp_path)


@pytest.fixture(scope="module")
def logged_cellar_process(tmp_path_factory) -> Iterator[CellarProcess]:
    """A real ``cellar serve`` for a test module, writing an access log."""
    yield from _serve_until_teardown(tmp_path_factory.mktemp("logged-cellar"), access_log=True)


@pytest.fixture(scope="session")
def dist_builder(tmp_path_factory) -> DistBuilder:
    """Builds sample wheels and sdists with ``build``, each once per session."""
    return DistBuilder(tmp_path_factory.mktemp("dists"))


def client_environ(home: Path, **extra: str) -> dict[str, str]:
    """An environment for pip, uv and twine that reads no configuration but ours.

    The machine's own pip configuration may name other indexes; ignoring every config
    file keeps the clients talking to the server under test alone.
    """
    return clean_environ(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_NO_CONFIG="1",
        UV_CACHE_DIR=str(home / "uv-cache"),
        UV_PYTHON_DOWNLOADS="never",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        NO_COLOR="1",
        COLUMNS="400",
        **extra,
    )


@dataclasses.dataclass
class ClientResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


@dataclasses.dataclass
class DevpiClient:
    """The real devpi client with its own client directory and home."""

    clientdir: Path
    env: dict[str, str]

    def run(self, *args: str, ok: bool = True, stdin: str | None = None) -> ClientResult:
        """Run ``devpi ARGS``; check the exit status and that every reply was versioned."""
        command = [sys.executable, "-m", "devpi", "--clientdir", str(self.clientdir), *args]
        done = subprocess.run(
            command,
            env=self.env,
            input=stdin or "",
            capture_output=True,
            text=True,
            timeout=60,
            # No controlling terminal: getpass then reads passwords from stdin.
            start_new_session=True,
        )
        result = ClientResult(done.returncode, done.stdout, done.stderr)
        shown = f"$ devpi {' '.join(args)}\n{result.output}"
        assert "unversioned reply" not in result.output, shown
        assert "Traceback" not in result.output, shown
        assert (result.returncode == 0) is ok, shown
        return result


def devpi_client_in(basedir: Path) -> DevpiClient:
    """A devpi client that keeps its state and any config files inside ``basedir``."""
    home = basedir / "home"
    home.mkdir()
    env = clean_environ(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    return DevpiClient(basedir / "client", env)


@pytest.fixture
def devpi(tmp_path) -> DevpiClient:
    """A devpi client that keeps its state and any config files inside ``tmp_path``."""
    return devpi_client_in(tmp_path)
