"""Request-rate cases driven by ``wrk`` (C, event loop) when it is installed.

A Python client cannot send more than a few thousand requests a second from one process,
and on a 2-core machine it takes the CPU the server needs; ``wrk`` costs far less. Without
``wrk`` the cases fall back to the thread-per-connection client of :mod:`tests.bench.load`.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.bench.load import LoadCase
from tests.bench.load import run_case

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m),", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def wrk_path() -> str | None:
    return shutil.which("wrk")


def parse(output: str) -> dict:
    """Requests, errors, elapsed seconds, req/s and p50/p99 in ms from ``wrk --latency``."""
    latencies = {pct: float(value) * _UNITS[unit] for pct, value, unit in _LATENCY.findall(output)}
    found = _REQUESTS.search(output)
    if found is None or "50" not in latencies or "99" not in latencies:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    requests = int(found.group(1))
    seconds = float(found.group(2)) * _UNITS[found.group(3)] / 1000
    errors = sum(int(n) for n in _NON_2XX.findall(output))
    errors += sum(int(n) for match in _SOCKET.findall(output) for n in match)
    return {
        "requests": requests,
        "errors": errors,
        "seconds": round(seconds, 3),
        "requests_per_second": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": round(latencies["50"], 3),
        "p99_ms": round(latencies["99"], 3),
    }


def run(url: str, headers: dict[str, str], clients: int, duration: float) -> dict:
    """``wrk`` with ``clients`` connections on at most 2 threads, for ``duration`` seconds."""
    command = [wrk_path() or "wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{duration:g}s"]
    command += ["--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=duration + 30)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return {"tool": "wrk", **parse(done.stdout)}


def run_python(port: int, path: str, headers: dict[str, str], clients: int, duration: float):
    """The same measurement with the Python client (no ``wrk`` installed)."""
    result = run_case(port, LoadCase(path, path, clients, headers), duration, 10_000_000)
    return {
        "tool": "python",
        "requests": result.requests,
        "errors": result.errors,
        "seconds": result.seconds,
        "requests_per_second": result.requests_per_second,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
    }
