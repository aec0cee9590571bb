"""The mirror benchmark's rounds and their parts: a mirror over a local upstream, pip, loads."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from tests.bench import wrk
from tests.bench.hostdata import PIP_ACCEPT
from tests.bench.servers import RunningServer
from tests.bench.servers import ServerFailed
from tests.bench.servers import ServerKind
from tests.bench.servers import free_port
from tests.bench.servers import memory_kib
from tests.upstream import BENCH_ROOT
from tests.upstream import UpstreamServer
from tests.upstream import bench_catalog
from tests.upstream.fixtures import pip_env

#: Packages in the set pip downloads; installing ``BENCH_ROOT`` pulls in all of them.
PACKAGES = 30
#: Projects with one large wheel each, for the download rates: name -> payload bytes.
BIG_FILES = {"bench-big-1mb": 1_000_000, "bench-big-4mb": 4_000_000}
#: Names in the upstream's project list for the memory case (about PyPI's count).
NAME_LIST = 700_000
ROOT_PASSWORD = "bench-root-password"
MIRROR = "root/pypi"
JSON = {"Accept": "application/json", "Content-Type": "application/json"}
PIP_HEADERS = {"Accept": PIP_ACCEPT, "User-Agent": "pip/24.0"}
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
#: Nothing listens on the discard port: a proxied request fails at once.
DEAD_PROXY = "http://127.0.0.1:9"


class BenchFailed(RuntimeError):
    """A step of the benchmark gave a wrong answer (not merely a slow one)."""


def start_upstream() -> UpstreamServer:
    """The local PyPI: the 30-package set plus the large wheels, files on another host name."""
    catalog = bench_catalog(PACKAGES)
    for project, size in BIG_FILES.items():
        catalog.add(project, "1.0", payload=size)
    return UpstreamServer(catalog).start()


# --- servers -------------------------------------------------------------------------------


def init_mirror(kind: ServerKind, serverdir: Path, mirror_url: str, log: Path) -> None:
    """Initialise a fresh server directory with a root password (and cellar's upstream)."""
    if kind.init_exe is None:
        command = [str(kind.serve_exe), "init", "--serverdir", str(serverdir)]
        command += ["--mirror-url", mirror_url]
    else:
        # devpi's default root/pypi mirrors pypi.org: point_at_upstream creates it instead.
        command = [*kind.init_command(serverdir), "--no-root-pypi"]
    command += ["--root-passwd", ROOT_PASSWORD]
    with log.open("ab") as out:
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=server_env(), check=True)


def server_env() -> dict[str, str]:
    """The environment of the servers: any request to a host other than the local upstream
    goes to a proxy that refuses it, so no server can reach the internet by mistake."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        env[name] = env[name.upper()] = DEAD_PROXY
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


def serve_command(kind: ServerKind, serverdir: Path, port: int, threads: int) -> list[str]:
    """Like :meth:`ServerKind.serve_command` but online: the mirror must reach its upstream."""
    command = [str(kind.serve_exe)] + (["serve"] if kind.init_exe is None else [])
    command += ["--serverdir", str(serverdir), "--host", "127.0.0.1", "--port", str(port)]
    return [*command, "--threads", str(threads), *kind.extra_args]


def start_mirror(
    kind: ServerKind, serverdir: Path, threads: int, log: Path, timeout: float = 60.0
) -> RunningServer:
    """Spawn the server; return once ``GET /+api`` answers 200 (time from spawn, RSS then)."""
    port = free_port()
    command = serve_command(kind, serverdir, port, threads)
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=server_env())
    try:
        ready = _wait_ready(process, port, started, timeout) - started
        rss, peak = memory_kib(process.pid), memory_kib(process.pid, "VmHWM")
    except BaseException:
        process.kill()
        process.wait()
        raise
    return RunningServer(kind, process, port, ready, rss, peak)


def _wait_ready(process: subprocess.Popen, port: int, started: float, timeout: float) -> float:
    while time.perf_counter() < started + timeout:
        if process.poll() is not None:
            raise ServerFailed(f"server exited with {process.returncode} before it was ready")
        if _api_answers(port):
            return time.perf_counter()
        time.sleep(0.01)
    raise ServerFailed(f"no 200 on /+api: start-up did not finish in {timeout:g} s")


def _api_answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/+api", headers={"Accept": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def base_url(server: RunningServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def point_at_upstream(server: RunningServer, mirror_url: str) -> None:
    """Make sure root/pypi mirrors ``mirror_url``: devpi gets it through its API as root
    (cellar was initialised with it); then check that the index says so."""
    url = base_url(server)
    with requests.Session() as session:
        if server.kind.init_exe is not None:
            login = {"user": "root", "password": ROOT_PASSWORD}
            reply = _check(session.post(f"{url}/+login", json=login, headers=JSON), "login")
            token = reply.json()["result"]["password"]
            auth = base64.b64encode(f"root:{token}".encode()).decode()
            headers = {**JSON, "X-Devpi-Auth": auth}
            body = {"type": "mirror", "mirror_url": mirror_url, "title": "PyPI", "volatile": False}
            _check(session.put(f"{url}/{MIRROR}", json=body, headers=headers), "create", 201)
        # Without no_projects devpi would fetch the whole project list to answer.
        reply = session.get(f"{url}/{MIRROR}?no_projects=", headers=JSON)
        config = _check(reply, "get").json()["result"]
    if config.get("mirror_url") != mirror_url:
        raise BenchFailed(f"{MIRROR} mirrors {config.get('mirror_url')!r}, not {mirror_url!r}")


def _check(reply: requests.Response, what: str, *also: int) -> requests.Response:
    if reply.status_code not in (200, *also):
        raise BenchFailed(f"{what} {reply.url}: HTTP {reply.status_code} {reply.text[:300]}")
    return reply


# --- pip -----------------------------------------------------------------------------------


def pip_download(index_url: str, scratch: Path) -> float:
    """Seconds for ``pip download BENCH_ROOT --no-cache-dir`` from ``index_url``, isolated
    (its own home, no config). Raises :class:`BenchFailed` unless all packages arrive."""
    scratch.mkdir(parents=True)
    dest = scratch / "downloads"
    command = [sys.executable, "-m", "pip", "download", BENCH_ROOT, "--no-cache-dir"]
    command += ["--index-url", index_url, "--dest", str(dest), "--progress-bar", "off", "-q"]
    env = pip_env(scratch)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    got = len(list(dest.glob("*.whl"))) if dest.exists() else 0
    shutil.rmtree(scratch, ignore_errors=True)
    if done.returncode != 0 or got != PACKAGES:
        output = (done.stdout + done.stderr)[-2000:]
        raise BenchFailed(
            f"pip download from {index_url}: exit {done.returncode}, {got} wheels\n{output}"
        )
    return elapsed


# --- downloads -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CachedFile:
    project: str
    url: str
    size: int
    first_seconds: float  # the first request, which fetched it from upstream


def cache_big_file(server: RunningServer, project: str) -> CachedFile:
    """Find the project's wheel on the mirror's page and download it once (into the cache)."""
    page_url = f"{base_url(server)}/{MIRROR}/+simple/{project}/"
    reply = _check(requests.get(page_url, headers=PIP_HEADERS, timeout=60), "page")
    url = urljoin(page_url, reply.json()["files"][0]["url"]).split("#", 1)[0]
    started = time.perf_counter()
    body = _check(requests.get(url, headers=PIP_HEADERS, timeout=120), "first download").content
    first = time.perf_counter() - started
    if len(body) < BIG_FILES[project]:
        raise BenchFailed(f"{url}: {len(body)} bytes, expected at least {BIG_FILES[project]}")
    _wait_cached(url)
    return CachedFile(project, url, len(body), round(first, 4))


def _wait_cached(url: str, attempts: int = 50) -> None:
    """devpi answers 404 for a moment after streaming a file it is still committing."""
    for _ in range(attempts):
        if requests.get(url, headers=PIP_HEADERS, timeout=60).status_code == 200:
            return
        time.sleep(0.1)
    raise BenchFailed(f"{url}: not served from the cache after {attempts} attempts")


def load_file(server: RunningServer, cached: CachedFile, clients: int, duration: float) -> dict:
    """Download the cached file back-to-back with ``clients`` connections (wrk if installed)."""
    headers = {"User-Agent": "pip/24.0"}
    if wrk.wrk_path():
        result = wrk.run(cached.url, headers, clients, duration)
    else:
        path = cached.url[len(base_url(server)) :]
        result = wrk.run_python(server.port, path, headers, clients, duration)
    result.update(case=f"download {cached.project}", clients=clients, size=cached.size)
    result["mb_per_second"] = round(result["requests_per_second"] * cached.size / 1e6, 1)
    return result


# --- the project list ----------------------------------------------------------------------


def read_project_list(url: str, timeout: float) -> dict:
    """GET the whole project list, streamed; seconds, bytes, or ``timed_out`` after ``timeout``."""
    started = time.perf_counter()
    size = 0
    try:
        with requests.get(url, headers=PIP_HEADERS, stream=True, timeout=timeout) as reply:
            _check(reply, "project list")
            for chunk in reply.iter_content(1 << 16):
                size += len(chunk)
                if time.perf_counter() - started > timeout:
                    return {"timed_out": True, "seconds": timeout, "bytes": size}
            content_type = reply.headers.get("Content-Type", "")
    except requests.exceptions.Timeout:
        return {"timed_out": True, "seconds": timeout, "bytes": size}
    seconds = round(time.perf_counter() - started, 3)
    return {"timed_out": False, "seconds": seconds, "bytes": size, "content_type": content_type}


# --- rounds --------------------------------------------------------------------------------


@dataclasses.dataclass
class Bench:
    """What every round needs: the upstream, where to work, and the options."""

    upstream: UpstreamServer
    workdir: Path
    options: Any  # the parsed command line of ``tests.bench.mirror``

    def log(self, kind: ServerKind) -> Path:
        return self.workdir / f"{kind.name}.log"

    @contextlib.contextmanager
    def directory(self, kind: ServerKind, label: str) -> Iterator[Path]:
        """A server directory, removed afterwards unless ``--keep``."""
        serverdir = self.workdir / f"{kind.name}-{label}"
        try:
            yield serverdir
        finally:
            if not self.options.keep:
                shutil.rmtree(serverdir, ignore_errors=True)

    def fresh_server(self, kind: ServerKind, serverdir: Path) -> RunningServer:
        """Initialise ``serverdir`` with root/pypi mirroring the upstream; start its server."""
        init_mirror(kind, serverdir, self.upstream.index_url, self.log(kind))
        server = start_mirror(kind, serverdir, self.options.threads, self.log(kind))
        try:
            point_at_upstream(server, self.upstream.index_url)
        except BaseException:
            server.stop()
            raise
        return server


def pip_round(bench: Bench, kind: ServerKind, run: int, groups: set[str]) -> dict:
    """One fresh server: the pip runs, then the downloads of cached files."""
    result: dict = {"run": run, "direct": [], "warm": [], "downloads": []}
    result["loadavg_at_start"] = os.getloadavg()
    with bench.directory(kind, f"run{run}") as serverdir:
        server = bench.fresh_server(kind, serverdir)
        try:
            if "pip" in groups:
                index_url = f"{base_url(server)}/{MIRROR}/+simple/"
                pip_runs(bench, index_url, bench.workdir / f"pip-{kind.name}-{run}", result)
                say(f"  {kind.name} run {run}: {_pip_line(result)}")
            if "downloads" in groups:
                result["downloads"] = _downloads(bench, server)
            result["rss_after_kib"] = memory_kib(server.pid)
        finally:
            server.stop()
    return result


def pip_runs(bench: Bench, index_url: str, scratch: Path, result: dict) -> None:
    """direct, cold, direct, then ``--repeat`` times warm and direct: every run through
    the mirror has a direct run just before and just after it."""
    upstream = bench.upstream
    result["direct"].append(pip_download(upstream.index_url, scratch / "direct0"))
    upstream.clear_log()
    result["cold"] = pip_download(index_url, scratch / "cold")
    result["cold_upstream_requests"] = len(upstream.requests)
    result["warm_upstream_requests"] = 0
    result["direct"].append(pip_download(upstream.index_url, scratch / "direct1"))
    for number in range(1, bench.options.repeat + 1):
        upstream.clear_log()
        result["warm"].append(pip_download(index_url, scratch / f"warm{number}"))
        result["warm_upstream_requests"] += len(upstream.requests)
        direct = scratch / f"direct{number + 1}"
        result["direct"].append(pip_download(upstream.index_url, direct))


def _pip_line(result: dict) -> str:
    direct = " ".join(f"{s:.2f}" for s in result["direct"])
    warm = " ".join(f"{s:.2f}" for s in result["warm"])
    return f"direct {direct} s, cold {result['cold']:.2f} s, warm {warm} s"


def _downloads(bench: Bench, server: RunningServer) -> list[dict]:
    outcomes = []
    for project in BIG_FILES:
        cached = cache_big_file(server, project)
        for clients in (int(n) for n in bench.options.clients.split(",")):
            outcome = load_file(server, cached, clients, bench.options.duration)
            outcome["first_seconds"] = cached.first_seconds
            say(
                f"    {outcome['case']:<24} {clients:>2} clients "
                f"{outcome['mb_per_second']:>8.0f} MB/s  p99 {outcome['p99_ms']:.2f} ms"
            )
            outcomes.append(outcome)
    return outcomes


def names_round(bench: Bench, kind: ServerKind) -> dict:
    """A fresh server reads the big project list; then restarts on its directory."""
    bench.upstream.set_name_list(bench.options.names)
    try:
        with bench.directory(kind, "names") as serverdir:
            server = bench.fresh_server(kind, serverdir)
            try:
                result = _load_list(bench, server)
            finally:
                server.stop()
            result["restarts"] = _restarts(bench, kind, serverdir)
    finally:
        bench.upstream.set_name_list(0)
    return result


def _load_list(bench: Bench, server: RunningServer) -> dict:
    url, timeout = f"{base_url(server)}/{MIRROR}/+simple/", bench.options.list_timeout
    result = {"rss_ready_kib": server.rss_ready_kib, "fresh_ready_seconds": server.ready_seconds}
    result["first"] = first = read_project_list(url, timeout)
    result["rss_after_list_kib"] = memory_kib(server.pid)
    result["peak_kib"] = memory_kib(server.pid, "VmHWM")
    if not first["timed_out"]:
        result["second"] = read_project_list(url, timeout)
        result["rss_after_second_kib"] = memory_kib(server.pid)
    state = f"did not finish in {timeout:g} s" if first["timed_out"] else "read"
    say(
        f"  {server.kind.name}: list {state}: {first['seconds']:.1f} s, {first['bytes']:,} bytes,"
        f" RSS {result['rss_after_list_kib'] / 1024:.0f} MB (peak {result['peak_kib'] / 1024:.0f})"
    )
    return result


def _restarts(bench: Bench, kind: ServerKind, serverdir: Path) -> list[dict]:
    restarts = []
    for _ in range(bench.options.runs):
        server = start_mirror(
            kind, serverdir, bench.options.threads, bench.log(kind), bench.options.list_timeout
        )
        server.stop()
        restarts.append(
            {"ready_seconds": round(server.ready_seconds, 3), "rss_kib": server.rss_ready_kib}
        )
    times = " ".join(f"{restart['ready_seconds']:.2f}" for restart in restarts)
    say(f"  {kind.name}: restarts {times} s")
    return restarts


def say(text: str) -> None:
    print(text, flush=True)
