"""Closed-loop load: N client threads, each on its own keep-alive connection, for a fixed time."""

from __future__ import annotations

import dataclasses
import http.client
import threading
import time

#: Seconds each client spends warming its connection (and the server) before measuring.
WARMUP_SECONDS = 0.2


@dataclasses.dataclass(frozen=True)
class LoadCase:
    """One request shape: a name for the table, the path, extra headers, the client count."""

    name: str
    path: str
    clients: int
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class LoadResult:
    case: str
    path: str
    clients: int
    requests: int
    errors: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    mean_ms: float


class _Client:
    """One keep-alive connection that records the latency of every measured request."""

    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.port = port
        self.path = path
        self.headers = {"Accept": "application/json", **headers}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.latencies: list[float] = []
        self.errors = 0

    def request(self) -> float:
        started = time.perf_counter()
        try:
            self.conn.request("GET", self.path, headers=self.headers)
            response = self.conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            # The server dropped the connection; open a new one and count the failure.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            ok = False
        if not ok:
            self.errors += 1
        return time.perf_counter() - started

    def run(self, barrier: threading.Barrier, window: list[float], limit: int) -> None:
        warm_until = time.perf_counter() + WARMUP_SECONDS
        while time.perf_counter() < warm_until:
            self.request()
        self.errors = 0
        barrier.wait()
        deadline = window[0]
        record = self.latencies.append
        while len(self.latencies) < limit and time.perf_counter() < deadline:
            record(self.request())
        self.conn.close()


def run_case(port: int, case: LoadCase, duration: float, max_requests: int) -> LoadResult:
    """Drive ``case`` for ``duration`` seconds (or ``max_requests`` in total, if sooner)."""
    clients = [_Client(port, case.path, case.headers) for _ in range(case.clients)]
    window = [0.0]

    def open_window() -> None:
        # Runs once all clients have warmed up and before any is released, so every
        # client reads the same deadline.
        window[0] = time.perf_counter() + duration

    barrier = threading.Barrier(case.clients + 1, action=open_window)
    limit = max(1, max_requests // case.clients)
    threads = [
        threading.Thread(target=client.run, args=(barrier, window, limit), daemon=True)
        for client in clients
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = window[0] - duration
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(lat for client in clients for lat in client.latencies)
    errors = sum(client.errors for client in clients)
    return _summarise(case, latencies, errors, elapsed)


def _summarise(case: LoadCase, latencies: list[float], errors: int, elapsed: float) -> LoadResult:
    count = len(latencies)
    return LoadResult(
        case=case.name,
        path=case.path,
        clients=case.clients,
        requests=count,
        errors=errors,
        seconds=round(elapsed, 3),
        requests_per_second=round(count / elapsed, 1) if elapsed else 0.0,
        p50_ms=_percentile_ms(latencies, 0.50),
        p99_ms=_percentile_ms(latencies, 0.99),
        mean_ms=round(1000 * sum(latencies) / count, 3) if count else 0.0,
    )


def _percentile_ms(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return round(1000 * ordered[round(fraction * (len(ordered) - 1))], 3)
