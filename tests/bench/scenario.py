"""The measurements for one server: start-up (fresh and initialised), memory, request load."""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path

from tests.bench.data import INDEX
from tests.bench.data import USER
from tests.bench.data import populate
from tests.bench.load import LoadCase
from tests.bench.load import run_case
from tests.bench.servers import RunningServer
from tests.bench.servers import ServerKind
from tests.bench.servers import memory_kib
from tests.bench.servers import run_init
from tests.bench.servers import start_server


@dataclasses.dataclass(frozen=True)
class Options:
    runs: int
    threads: int
    duration: float
    max_requests: int
    clients: tuple[int, ...]


def load_cases(auth: dict[str, str], clients: tuple[int, ...]) -> list[LoadCase]:
    """``GET /+api``, ``GET /bench/dev`` anonymous and with a login token, per client count."""
    index = f"/{USER}/{INDEX}"
    cases = []
    for count in clients:
        cases.append(LoadCase("GET /+api", "/+api", count))
        cases.append(LoadCase(f"GET {index}", index, count))
        cases.append(LoadCase(f"GET {index} (token)", index, count, auth))
    return cases


def bench_server(kind: ServerKind, options: Options, workdir: Path) -> dict:
    """Run every measurement for ``kind``; return a JSON-ready result."""
    log = workdir / f"{kind.name}.log"
    fresh, serverdir = _fresh_starts(kind, options, workdir, log)
    warm, server = _initialised_starts(kind, options, serverdir, log)
    try:
        auth = populate(f"http://127.0.0.1:{server.port}")
        loads = [
            dataclasses.asdict(run_case(server.port, case, options.duration, options.max_requests))
            for case in load_cases(auth, options.clients)
        ]
        rss_after = memory_kib(server.pid)
        peak_after = memory_kib(server.pid, "VmHWM")
    finally:
        server.stop()
    return {
        "server": kind.name,
        "command": kind.serve_command(Path("SERVERDIR"), 0, options.threads),
        "startup_fresh": fresh,
        "startup_initialised": warm,
        "rss_after_load_kib": rss_after,
        "peak_rss_after_load_kib": peak_after,
        "load": loads,
        "log": str(log),
    }


def _fresh_starts(kind, options, workdir, log) -> tuple[dict, Path]:
    runs = []
    for number in range(options.runs):
        serverdir = workdir / f"{kind.name}-fresh-{number}"
        init_seconds = run_init(kind, serverdir, log)
        server = start_server(kind, serverdir, options.threads, log)
        server.stop()
        runs.append(_start_record(server, init_seconds))
    return _summarise_starts(runs), serverdir


def _initialised_starts(kind, options, serverdir, log) -> tuple[dict, RunningServer]:
    """Restart on an initialised directory; the last server stays up for the load test."""
    runs = []
    for number in range(options.runs):
        server = start_server(kind, serverdir, options.threads, log)
        runs.append(_start_record(server, 0.0))
        if number < options.runs - 1:
            server.stop()
    return _summarise_starts(runs), server


def _start_record(server: RunningServer, init_seconds: float) -> dict:
    return {
        "init_seconds": round(init_seconds, 4),
        "ready_seconds": round(server.ready_seconds, 4),
        "total_seconds": round(init_seconds + server.ready_seconds, 4),
        "rss_ready_kib": server.rss_ready_kib,
        "peak_rss_ready_kib": server.peak_ready_kib,
    }


def _summarise_starts(runs: list[dict]) -> dict:
    totals = [run["total_seconds"] for run in runs]
    rss = [run["rss_ready_kib"] for run in runs]
    return {
        "runs": runs,
        "total_seconds_min": min(totals),
        "total_seconds_median": round(statistics.median(totals), 4),
        "rss_ready_kib_median": round(statistics.median(rss)),
        "peak_rss_ready_kib_max": max(run["peak_rss_ready_kib"] for run in runs),
    }
