"""Upload throughput: small wheels posted as twine posts them, with a password or a token.

Every wheel is built and multipart-encoded before the clock starts, so the client's work
per upload is one POST on a keep-alive connection. Each case uploads into a fresh index of
its own; each client uploads its own project.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

import requests
from tests.bench.hostdata import USER
from tests.bench.hostdata import Hosted
from tests.bench.hostdata import create_index
from tests.bench.hostdata import encoded_upload
from tests.bench.hostdata import post_upload


def _prepare(tag: str, clients: int, total: int) -> list[list]:
    per_client = total // clients
    return [
        [encoded_upload(f"up-{tag}-{n}", f"1.0.{v}") for v in range(per_client)]
        for n in range(clients)
    ]


def run_uploads(hosted: Hosted, credential: str, clients: int, total: int) -> dict:
    """Upload ``total`` wheels with ``clients`` clients; ``credential`` is password|token."""
    tag = f"{credential}-{clients}"
    index = f"{USER}/up-{tag}"
    with requests.Session() as session:
        create_index(session, hosted.base_url, hosted.token, index, [])
    auth = hosted.password_auth if credential == "password" else hosted.token_auth
    work = _prepare(tag, clients, total)
    url = f"{hosted.base_url}/{index}/"
    barrier = threading.Barrier(clients)

    def client(uploads: list) -> tuple[list[float], int]:
        latencies, errors = [], 0
        with requests.Session() as session:
            barrier.wait()
            for upload in uploads:
                began = time.perf_counter()
                reply = post_upload(session, url, upload, auth)
                latencies.append(time.perf_counter() - began)
                errors += reply.status_code != 200
        return latencies, errors

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        outcomes = [f.result() for f in [pool.submit(client, chunk) for chunk in work]]
    elapsed = time.perf_counter() - started
    latencies = sorted(lat for lats, _ in outcomes for lat in lats)
    return {
        "case": f"upload ({credential})",
        "clients": clients,
        "requests": len(latencies),
        "errors": sum(errors for _, errors in outcomes),
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 3),
        "p99_ms": round(1000 * latencies[round(0.99 * (len(latencies) - 1))], 3),
    }
