"""Benchmark cellar (and devpi-server for comparison): start-up, memory, request load.

Run from the repository root: ``python -m tests.bench.run --server all``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import report
from tests.bench.breakdown import format_breakdown
from tests.bench.breakdown import measure
from tests.bench.scenario import Options
from tests.bench.scenario import bench_server
from tests.bench.servers import SERVER_NAMES
from tests.bench.servers import kinds_from_args
from tests.bench.servers import tail


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__)
    parser.add_argument("--server", choices=[*SERVER_NAMES, "all"], default="cellar")
    parser.add_argument("--runs", type=int, default=3, help="start-ups per serverdir state [3]")
    parser.add_argument("--threads", type=int, default=50, help="server worker threads [50]")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per load case [2.0]")
    parser.add_argument(
        "--max-requests", type=int, default=100_000, help="request cap per load case [100000]"
    )
    parser.add_argument(
        "--clients", default="1,8", help="comma list of concurrent client counts [1,8]"
    )
    parser.add_argument("--devpi-venv", help="virtualenv with devpi-server and devpi-web")
    parser.add_argument("--devpi-noweb-venv", help="virtualenv with devpi-server only")
    parser.add_argument(
        "--no-breakdown", action="store_true", help="skip cellar's in-process start-up breakdown"
    )
    parser.add_argument("--keep", action="store_true", help="keep server dirs and logs")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    kinds = kinds_from_args(args)
    if not kinds:
        return 2
    options = Options(
        runs=args.runs,
        threads=args.threads,
        duration=args.duration,
        max_requests=args.max_requests,
        clients=tuple(int(n) for n in args.clients.split(",")),
    )
    started = time.perf_counter()
    machine = report.machine_facts()
    _warn_if_busy(machine)
    workdir = Path(tempfile.mkdtemp(prefix="cellar-bench-"))
    results, failures = _bench_all(kinds, options, workdir)
    payload = {
        "options": vars(args),
        "machine_at_start": machine,
        "results": results,
        "failures": failures,
    }
    if args.server in ("cellar", "all") and not args.no_breakdown:
        payload["cellar_breakdown"] = measure()
    _print(payload, report.save(payload), time.perf_counter() - started)
    if args.keep:
        print(f"server directories and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


def _warn_if_busy(machine: dict) -> None:
    # Other work on the machine shows up as slower start-ups and noisier latencies.
    if machine["loadavg"][0] > 0.5 * (machine["cpus"] or 1):
        print(
            f"warning: load average {machine['loadavg'][0]:.1f} on {machine['cpus']} CPUs; "
            "numbers will be noisy",
            file=sys.stderr,
        )


def _bench_all(kinds, options: Options, workdir: Path) -> tuple[list[dict], dict]:
    results, failures = [], {}
    for kind in kinds:
        print(f"benchmarking {kind.name} ...", flush=True)
        began = time.perf_counter()
        try:
            result = bench_server(kind, options, workdir)
            result["bench_seconds"] = round(time.perf_counter() - began, 1)
            results.append(result)
        except Exception as exc:  # report the other servers anyway
            log = workdir / f"{kind.name}.log"
            failures[kind.name] = f"{type(exc).__name__}: {exc}\n{tail(log)}"
            print(f"  {kind.name} failed: {failures[kind.name]}", file=sys.stderr)
    return results, failures


def _print(payload: dict, saved: Path, elapsed: float) -> None:
    results = payload["results"]
    if results:
        print("\nStart-up (process start -> first 200 on GET /+api; fresh includes init)")
        print(report.startup_table(results))
        print("\nLoad (closed loop, keep-alive connections, Accept: application/json)")
        print(report.load_table(results))
    if "cellar_breakdown" in payload:
        print("\ncellar start-up breakdown (in-process)")
        print(format_breakdown(payload["cellar_breakdown"]))
    print(f"\nresults: {saved}  ({elapsed:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
