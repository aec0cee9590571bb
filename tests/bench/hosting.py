"""Benchmark hosting: warm simple pages, file downloads and uploads, cellar beside devpi.

Run from the repository root: ``python -m tests.bench.hosting --server all``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import hostcases
from tests.bench import report
from tests.bench import wrk
from tests.bench.hostdata import PROJECTS
from tests.bench.hostdata import SLOW_FOR_DEVPI
from tests.bench.hostdata import populate
from tests.bench.servers import SERVER_NAMES
from tests.bench.servers import ServerKind
from tests.bench.servers import kinds_from_args
from tests.bench.servers import memory_kib
from tests.bench.servers import run_init
from tests.bench.servers import start_server
from tests.bench.servers import tail
from tests.bench.targets import evaluate
from tests.bench.targets import targets_table
from tests.bench.uploads import run_uploads


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.hosting", description=__doc__)
    parser.add_argument("--server", choices=[*SERVER_NAMES, "all"], default="cellar")
    parser.add_argument("--threads", type=int, default=50, help="server worker threads [50]")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load case [5]")
    parser.add_argument("--clients", default="1,8", help="client counts for pages and files")
    parser.add_argument("--uploads", type=int, default=200, help="wheels per upload case [200]")
    parser.add_argument("--upload-clients", default="1,4", help="client counts for uploads [1,4]")
    parser.add_argument(
        "--only", choices=["pages", "downloads", "uploads"], action="append",
        help="run only these groups (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--devpi-2000", action="store_true",
        help=f"give devpi {SLOW_FOR_DEVPI} too (its 2,000 uploads take hours)",
    )  # fmt: skip
    parser.add_argument("--devpi-venv", help="virtualenv with devpi-server and devpi-web")
    parser.add_argument("--devpi-noweb-venv", help="virtualenv with devpi-server only")
    parser.add_argument("--keep", action="store_true", help="keep server dirs and logs")
    return parser


def bench_server(kind: ServerKind, args, workdir: Path) -> dict:
    """Start ``kind`` on a fresh directory, load the data, run every selected case."""
    serverdir, log = workdir / f"{kind.name}-hosting", workdir / f"{kind.name}.log"
    run_init(kind, serverdir, log)
    server = start_server(kind, serverdir, args.threads, log)
    groups = set(args.only or ("pages", "downloads", "uploads"))
    clients = tuple(int(n) for n in args.clients.split(","))
    try:
        began = time.perf_counter()
        projects = dict(PROJECTS)
        if kind.name != "cellar" and not args.devpi_2000:
            del projects[SLOW_FOR_DEVPI]
        hosted = populate(f"http://127.0.0.1:{server.port}", projects)
        result = {"server": kind.name, "setup_seconds": round(time.perf_counter() - began, 1)}
        print(f"  {kind.name}: data loaded in {result['setup_seconds']} s", flush=True)
        cases = []
        if "pages" in groups:
            cases += hostcases.page_cases(projects, clients)
        if "downloads" in groups:
            cases += hostcases.download_cases(hosted, clients)
        result["cases"] = [_run_case(hosted, case, args.duration) for case in cases]
        result["uploads"] = []
        if "uploads" in groups:
            for count in (int(n) for n in args.upload_clients.split(",")):
                for credential in ("password", "token"):
                    outcome = run_uploads(hosted, credential, count, args.uploads)
                    _progress(outcome)
                    result["uploads"].append(outcome)
        result["rss_after_kib"] = memory_kib(server.pid)
    finally:
        server.stop()
    return result


def _run_case(hosted, case, duration: float) -> dict:
    outcome = hostcases.run(hosted, case, duration)
    _progress(outcome)
    return outcome


def _progress(outcome: dict) -> None:
    print(
        f"    {outcome['case']:<32} {outcome['clients']:>2} clients "
        f"{outcome['requests_per_second']:>9.1f}/s  p99 {outcome['p99_ms']:.2f} ms",
        flush=True,
    )


def results_table(results: list[dict]) -> str:
    header = ["server", "case", "clients", "req/s", "MB/s", "p50 ms", "p99 ms", "n", "errors"]
    rows = []
    for result in results:
        for item in [*result["cases"], *result["uploads"]]:
            rows.append(
                [
                    result["server"],
                    item["case"],
                    str(item["clients"]),
                    f"{item['requests_per_second']:.0f}",
                    f"{item['mb_per_second']:.0f}" if "mb_per_second" in item else "",
                    f"{item['p50_ms']:.2f}",
                    f"{item['p99_ms']:.2f}",
                    str(item["requests"]),
                    str(item["errors"]),
                ]
            )
    return report._table(header, rows)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    kinds = kinds_from_args(args)
    if not kinds:
        return 2
    if not wrk.wrk_path():
        print("wrk not found: using the Python client (slower; rates are its limit)")
    machine = report.machine_facts()
    workdir = Path(tempfile.mkdtemp(prefix="cellar-hosting-"))
    results, failures = [], {}
    for kind in kinds:
        print(f"benchmarking {kind.name} ...", flush=True)
        try:
            results.append(bench_server(kind, args, workdir))
        except Exception as exc:  # report the other servers anyway
            log = tail(workdir / f"{kind.name}.log")
            failures[kind.name] = f"{type(exc).__name__}: {exc}\n{log}"
            print(f"  {kind.name} failed: {failures[kind.name]}", file=sys.stderr)
    rows = evaluate(results)
    payload = {"options": vars(args), "machine_at_start": machine, "results": results}
    generator = "wrk" if wrk.wrk_path() else "python"
    payload.update(targets=rows, failures=failures, load_generator=generator)
    saved = report.save(payload, prefix="hosting")
    if results:
        print("\n" + results_table(results))
        print("\nTargets (x = how many times better than devpi)")
        print(targets_table(rows, [r["server"] for r in results]))
    print(f"\nresults: {saved}")
    if args.keep:
        print(f"server directories and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
