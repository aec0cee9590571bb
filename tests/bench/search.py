"""Benchmark search: latency over 2,000 private projects, mirror-name lookups in a
700,000-name list, and start-up time and memory with the search plugin on and off.

Run from the repository root: ``python -m tests.bench.search``.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from tests.bench import report
from tests.bench.mirrorcases import init_mirror
from tests.bench.mirrorcases import start_mirror
from tests.bench.servers import cellar_kind
from tests.bench.servers import memory_kib
from tests.upstream import UpstreamServer
from tests.upstream.catalog import seed_catalog

WORDS = [
    "async",
    "http",
    "client",
    "server",
    "parser",
    "json",
    "yaml",
    "cache",
    "queue",
    "worker",
    "plugin",
    "config",
    "schema",
    "database",
    "orm",
    "migration",
    "test",
    "fixture",
    "mock",
    "logging",
    "metrics",
    "tracing",
    "auth",
    "token",
    "crypto",
    "image",
    "video",
    "audio",
    "text",
    "nlp",
    "vision",
    "model",
    "train",
    "deploy",
    "cloud",
    "storage",
    "stream",
    "batch",
]
QUERIES = ("parser", "http client", "json", "cache AND queue", "summary:plugin", "sch*", "pkg0042")
MIRROR_QUERIES = ("requests", "flask", "django-api", "zzqqnothing", "torch")
JSON = {"Accept": "application/json"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.search", description=__doc__)
    parser.add_argument("--projects", type=int, default=2000, help="private projects [2000]")
    parser.add_argument("--with-docs", type=int, default=200, help="of which with docs [200]")
    parser.add_argument("--names", type=int, default=700_000, help="mirror list size [700000]")
    parser.add_argument("--clients", type=int, default=4, help="client threads [4]")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per case [5]")
    parser.add_argument("--runs", type=int, default=3, help="restarts per start-up case [3]")
    parser.add_argument("--threads", type=int, default=50, help="server worker threads [50]")
    parser.add_argument(
        "--rss-steps",
        action="store_true",
        help="only the memory steps (RSS, anon and file, after each one); no start-up cases",
    )
    parser.add_argument(
        "--disable-search",
        action="store_true",
        help="with --rss-steps: serve with --disable-plugin cheesecellar_search",
    )
    return parser


def vocabulary(size: int = 5000) -> tuple[list[str], list[float]]:
    """The technical words plus made-up ones, with Zipf weights: a few words are in most
    texts, most words in few (a query matching every document is the worst case only)."""
    rng = random.Random(1)
    syllables = ["ka", "lo", "mi", "ne", "po", "ru", "sa", "ti", "vo", "ze", "bra", "tor"]
    words = list(WORDS)
    while len(words) < size:
        word = "".join(rng.choices(syllables, k=rng.randint(2, 4)))
        if word not in words:
            words.append(word)
    rng.shuffle(words)
    return words, [1 / (rank + 1) for rank in range(len(words))]


VOCABULARY = vocabulary()


def prose(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(VOCABULARY[0], weights=VOCABULARY[1], k=count))


def metadata(number: int, rng: random.Random) -> dict:
    words = rng.sample(WORDS, 6)
    return {
        ":action": "submit",
        "name": f"pkg{number:04d}-{words[0]}",
        "version": f"1.{number % 7}.0",
        "summary": f"A {words[1]} {words[2]} library for {prose(rng, 3)}",
        "description": prose(rng, 300),
        "keywords": " ".join(words[3:]),
        "author": "Bench Author",
        "classifiers": "Programming Language :: Python :: 3",
    }


def doc_zip(rng: random.Random) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for page in range(10):
            body = prose(rng, 800)
            archive.writestr(f"page{page}.html", f"<title>Page {page}</title><p>{body}</p>")
    return buffer.getvalue()


def populate(url: str, options) -> None:
    """User ``bench``, index ``bench/dev``, the projects (metadata only) and some docs."""
    admin = requests.Session()
    admin.headers.update(JSON)
    admin.put(f"{url}/bench", json={"password": "pw"}).raise_for_status()
    reply = admin.post(f"{url}/+login", json={"user": "bench", "password": "pw"})
    reply.raise_for_status()
    auth = ("bench", "pw")
    admin.auth = auth
    admin.put(f"{url}/bench/dev", json={"bases": []}).raise_for_status()

    def one(number: int) -> None:
        rng = random.Random(number)
        fields = metadata(number, rng)
        parts = [(key, (None, value)) for key, value in fields.items()]
        requests.post(f"{url}/bench/dev/", files=parts, auth=auth, timeout=60).raise_for_status()
        if number < options.with_docs:
            form = [(":action", (None, "doc_upload")), ("name", (None, fields["name"]))]
            form += [("version", (None, fields["version"]))]
            form += [("content", ("docs.zip", doc_zip(rng), "application/zip"))]
            requests.post(f"{url}/bench/dev/", files=form, auth=auth, timeout=60).raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(options.projects)))


def wait_indexed(url: str, timeout: float = 900.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() < started + timeout:
        status = requests.get(f"{url}/+status", headers=JSON, timeout=30).json()["result"]
        metrics = {name: value for name, _kind, value in status["metrics"]}
        if (
            metrics.get("cellar_search_queued") == 0
            and metrics.get("cellar_search_indexed_serial") == status["serial"]
        ):
            return time.perf_counter() - started
        time.sleep(0.2)
    raise RuntimeError("the search index did not catch up")


def latency(url: str, queries, params: dict, clients: int, duration: float) -> dict:
    """Clients search in a loop for ``duration`` seconds; latency percentiles in ms."""
    times: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + duration

    def client(offset: int) -> None:
        session = requests.Session()
        session.headers.update(JSON)
        count = offset
        while time.perf_counter() < stop:
            query = queries[count % len(queries)]
            started = time.perf_counter()
            reply = session.get(f"{url}/+search", params={"query": query, **params}, timeout=30)
            elapsed = time.perf_counter() - started
            reply.raise_for_status()
            with lock:
                times.append(elapsed)
            count += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times.sort()
    return {
        "requests": len(times),
        "per_s": len(times) / duration,
        "p50_ms": 1000 * times[len(times) // 2],
        "p99_ms": 1000 * times[min(len(times) - 1, int(len(times) * 0.99))],
    }


def startups(serverdir: Path, log: Path, options, disabled: bool, fresh: bool) -> dict:
    kind = search_kind(disabled)
    seconds, rss = [], []
    for _ in range(options.runs):
        if fresh:
            shutil.rmtree(serverdir / ".search", ignore_errors=True)
        server = start_mirror(kind, serverdir, options.threads, log)
        seconds.append(server.ready_seconds)
        rss.append(server.rss_ready_kib)
        server.stop()
    return {"median_s": statistics.median(seconds), "rss_mb": statistics.median(rss) / 1024}


def memory_mb(pid: int) -> dict:
    """Resident memory of ``pid`` in MB: all of it, anonymous (heap, stacks) and file-backed
    (mapped files, such as the mirror name list: counted, but the kernel can drop it)."""
    fields = {"rss": "VmRSS", "anon": "RssAnon", "file": "RssFile", "peak": "VmHWM"}
    return {label: memory_kib(pid, field) / 1024 for label, field in fields.items()}


def search_kind(disabled: bool):
    kind = cellar_kind()
    if disabled:
        kind = dataclasses.replace(kind, extra_args=("--disable-plugin", "cheesecellar_search"))
    return kind


def load_run(upstream, serverdir: Path, log: Path, options, results: dict) -> None:
    """Fetch the list, populate, wait for the index, search; memory after each step."""
    disabled = options.disable_search
    init_mirror(cellar_kind(), serverdir, upstream.index_url, log)
    server = start_mirror(search_kind(disabled), serverdir, options.threads, log)
    steps = results["rss_steps"] = {"started": memory_mb(server.pid)}
    try:
        url = f"http://127.0.0.1:{server.port}"
        started = time.perf_counter()
        simple_json = {"Accept": "application/vnd.pypi.simple.v1+json"}
        reply = requests.get(f"{url}/root/pypi/+simple/", headers=simple_json, timeout=600)
        reply.raise_for_status()
        results["list_fetch_s"] = time.perf_counter() - started
        steps["list fetched"] = memory_mb(server.pid)
        started = time.perf_counter()
        populate(url, options)
        results["populate_s"] = time.perf_counter() - started
        steps["populated"] = memory_mb(server.pid)
        if disabled:
            return
        results["index_wait_s"] = wait_indexed(url)
        steps["indexing caught up"] = memory_mb(server.pid)
        cases = {
            "private (index=bench/dev)": (QUERIES, {"index": "bench/dev"}),
            "all indexes (+ mirror names)": (QUERIES, {}),
            "mirror names (index=root/pypi)": (MIRROR_QUERIES, {"index": "root/pypi"}),
        }
        results["latency"] = {}
        for label, (queries, params) in cases.items():
            results["latency"][label] = latency(
                url, queries, params, options.clients, options.duration
            )
            steps[f"after {label}"] = memory_mb(server.pid)
        results["rss_after_search_mb"] = steps[f"after {label}"]["rss"]
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    upstream = UpstreamServer(seed_catalog()).start()
    upstream.set_name_list(options.names)
    work = Path(tempfile.mkdtemp(prefix="search-bench-"))
    serverdir, log = work / "server", work / "server.log"
    results: dict = {"options": vars(options), "machine": report.machine_facts()}
    try:
        load_run(upstream, serverdir, log, options, results)
        if not options.rss_steps:
            results["startup"] = {
                "search enabled": startups(serverdir, log, options, False, False),
                "search enabled, no index yet": startups(serverdir, log, options, False, True),
                "search disabled": startups(serverdir, log, options, True, False),
            }
        print_results(results)
        print(f"saved {report.save(results, 'search')}")
    finally:
        upstream.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _percentiles(result: dict) -> list[str]:
    return [f"{result['p50_ms']:.1f}", f"{result['p99_ms']:.1f}"]


def print_results(results: dict) -> None:
    clients = results["options"]["clients"]
    if "latency" in results:
        print(f"\nsearch latency, {clients} client threads, HTTP GET /+search")
        rows = [
            [label, str(r["requests"]), f"{r['per_s']:.0f}", *_percentiles(r)]
            for label, r in results["latency"].items()
        ]
        print(report._table(["case", "requests", "req/s", "p50 ms", "p99 ms"], rows))
    print("\nserver memory after each step, MB (anon: heap and stacks; file: mapped files)")
    rows = [
        [step, *(f"{m[part]:.1f}" for part in ("rss", "anon", "file", "peak"))]
        for step, m in results["rss_steps"].items()
    ]
    print(report._table(["step", "RSS", "anon", "file", "peak"], rows))
    if "startup" in results:
        print("\nstart-up with a stored 700,000-name root/pypi list (median of runs)")
        rows = [
            [label, f"{r['median_s']:.2f}", f"{r['rss_mb']:.1f}"]
            for label, r in results["startup"].items()
        ]
        print(report._table(["server", "ready s", "RSS at ready MB"], rows))
    waited = results.get("index_wait_s")
    print(
        f"\nlist fetch {results['list_fetch_s']:.1f} s, populate {results['populate_s']:.1f} s"
        + ("" if waited is None else f", indexing caught up {waited:.1f} s after the last upload")
    )


if __name__ == "__main__":
    raise SystemExit(main())
