"""Benchmark replication: upload-to-replica lag at a steady rate, an empty replica's catch-up.

Run from the repository root: ``python -m tests.bench.replication --server all``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from tests.bench import replicacases as cases
from tests.bench import report
from tests.bench.servers import ServerKind
from tests.bench.servers import resolve_kinds
from tests.bench.servers import tail
from tests.bench.targets import Target

from cheesecellar.auth.secret import write_secret

SERVERS = ("cellar", "devpi")
GROUPS = ("lag", "catchup")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.replication", description=__doc__)
    parser.add_argument("--server", choices=[*SERVERS, "all"], default="cellar")
    parser.add_argument("--rates", default="5,20", help="uploads per second of the lag runs")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per lag run [30]")
    parser.add_argument("--runs", type=int, default=2, help="lag runs per rate [2]")
    parser.add_argument(
        "--poll", type=float, default=0.002, help="seconds between two polls of the replica"
    )
    parser.add_argument("--uploads", type=int, default=2000, help="uploads of the catch-up [2000]")
    parser.add_argument("--big-files", type=int, default=25, help="files of the MB/s run [25]")
    parser.add_argument("--big-size", type=int, default=4_000_000, help="their size [4 MB]")
    parser.add_argument(
        "--replica-option", action="append", default=[],
        help="an extra option of cellar's replicas, e.g. --replica-option=--replica-file-threads=8",
    )  # fmt: skip
    parser.add_argument("--only", choices=GROUPS, action="append", help="run only these groups")
    parser.add_argument("--devpi-venv", help="virtualenv with devpi-server (6.20.3)")
    parser.add_argument("--keep", action="store_true", help="keep server dirs and logs")
    parser.add_argument("--workdir", help="make the server directories under this directory")
    return parser


#: Payload sizes of the catch-up uploads, cycled: mostly small, some 100 KB, a 1 MB one.
MIXED_SIZES = [0] * 8 + [2_000] * 8 + [20_000] * 3 + [100_000] * 1
MIXED_SIZES = MIXED_SIZES * 5 + MIXED_SIZES[:-1] + [1_000_000]


def bench_lag(kind: ServerKind, args, workdir: Path, secret: Path) -> list[dict]:
    primary = cases.start_node(kind, workdir / f"{kind.name}-p", _log(workdir, kind), secret)
    replica = None
    try:
        replica = cases.start_node(
            kind,
            workdir / f"{kind.name}-r",
            _log(workdir, kind),
            secret,
            primary.url,
            args.replica_option,
        )
        token = cases.login(primary)
        cases.warm_up(primary, replica, token)
        results = []
        for run in range(1, args.runs + 1):
            for rate in (float(r) for r in args.rates.split(",")):
                tag = f"{int(rate)}-{run}"
                outcome = cases.lag_run(
                    primary, replica, token, tag, rate, args.duration, args.poll
                )
                outcome["run"] = run
                _progress_lag(kind, outcome)
                results.append(outcome)
        return results
    finally:
        if replica is not None:
            replica.server.stop()
        primary.server.stop()


def bench_catchup(kind: ServerKind, args, workdir: Path, secret: Path) -> list[dict]:
    """Each case on a fresh primary: many files of mixed sizes, then a few large ones."""
    plans = [("mixed", args.uploads, MIXED_SIZES), ("big", args.big_files, [args.big_size])]
    return [
        catchup_case(kind, workdir, secret, name, count, sizes, args.replica_option)
        for name, count, sizes in plans
        if count
    ]


def catchup_case(kind, workdir, secret, name, count, sizes, replica_options) -> dict:
    serverdir = workdir / f"{kind.name}-{name}-primary"
    primary = cases.start_node(kind, serverdir, _log(workdir, kind), secret)
    try:
        token = cases.login(primary)
        index = f"{cases.USER}/{name}"
        uploads = cases.catchup_uploads(index, count, sizes, name)
        print(f"  {kind.name}: uploading {count} files for '{name}' ...", flush=True)
        cases.fill_primary(primary, token, index, uploads)
        outcome = cases.catchup_run(kind, primary, secret, workdir, uploads, name, replica_options)
        _progress_catchup(kind, outcome)
        return outcome
    finally:
        primary.server.stop()


def _log(workdir: Path, kind: ServerKind) -> Path:
    return workdir / f"{kind.name}.log"


def _progress_lag(kind: ServerKind, outcome: dict) -> None:
    files = outcome["file_ms"]
    print(
        f"    {kind.name} {outcome['rate']:>4.0f}/s run {outcome['run']}: "
        f"p50 {files.get('p50')} ms  p99 {files.get('p99')} ms  max {files.get('max')} ms  "
        f"lost {outcome['lost']}",
        flush=True,
    )


def _progress_catchup(kind: ServerKind, outcome: dict) -> None:
    print(
        f"    {kind.name} catch-up {outcome['case']}: {outcome['serials']} serials, "
        f"{outcome['megabytes']} MB in {outcome['seconds']} s = "
        f"{outcome['serials_per_second']} serials/s, {outcome['mb_per_second']} MB/s",
        flush=True,
    )


# --- report ------------------------------------------------------------------------------


def lag_table(results: dict[str, dict]) -> str:
    header = ["server", "rate/s", "run", "uploads", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    header += ["serial p50 ms", "lost"]
    rows = []
    for name, result in results.items():
        for item in result.get("lag", ()):
            files, serials = item["file_ms"], item["serial_ms"]
            rows.append(
                [name, f"{item['rate']:g}", str(item["run"]), str(item["uploads"])]
                + [_ms(files.get(key)) for key in ("p50", "p90", "p99", "max")]
                + [_ms(serials.get("p50")), str(item["lost"])]
            )
    return report._table(header, rows)


def catchup_table(results: dict[str, dict]) -> str:
    header = ["server", "case", "serials", "files", "MB", "ready s", "serials s", "all s"]
    header += ["serials/s", "after ready", "MB/s"]
    rows = []
    for name, result in results.items():
        for item in result.get("catchup", ()):
            figures = [
                f"{item['megabytes']:.1f}",
                f"{item['ready_seconds']:.2f}",
                f"{item['serials_seconds']:.2f}",
                f"{item['seconds']:.2f}",
                f"{item['serials_per_second']:.0f}",
                f"{item['serials_per_second_after_ready']:.0f}",
                f"{item['mb_per_second']:.1f}",
            ]
            rows.append([name, item["case"], str(item["serials"]), str(item["files"]), *figures])
    return report._table(header, rows)


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _lag_measure(rate: float, key: str):
    def measure(result: dict) -> float | None:
        values = [
            item["file_ms"][key]
            for item in result.get("lag", ())
            if item["rate"] == rate and item["file_ms"]
        ]
        return statistics.median(values) if values else None

    return measure


def _catchup_rate(result: dict) -> float | None:
    for item in result.get("catchup", ()):
        if item["case"] == "mixed":
            return item["serials_per_second"]
    return None


def targets(rates: list[float]) -> list[Target]:
    found = []
    for rate in rates:
        for key, limit in (("p50", 100), ("p99", 500)):
            name = f"lag {key}, {rate:g} uploads/s"
            found.append(Target(name, " ms", limit, False, _lag_measure(rate, key)))
    found.append(Target("catch-up from an empty replica", " serials/s", 500, True, _catchup_rate))
    return found


def targets_table(results: dict[str, dict], rates: list[float]) -> tuple[str, list[dict]]:
    others = [name for name in results if name != "cellar"]
    header = ["target (median over runs)", "goal", "cellar", *others, "pass"]
    rows, saved = [], []
    for target in targets(rates):
        values = {name: target.measure(result) for name, result in results.items()}
        passed = target.passes(values.get("cellar"))
        saved.append({"target": target.name, "goal": target.goal, **values, "pass": passed})
        rows.append(
            [target.name, target.goal]
            + [_ms(values.get(name)) for name in ("cellar", *others)]
            + [{True: "PASS", False: "FAIL", None: "-"}[passed]]
        )
    return report._table(header, rows), saved


# --- main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = list(SERVERS) if args.server == "all" else [args.server]
    kinds = resolve_kinds(names, args.devpi_venv, None)
    if not kinds:
        return 2
    groups = set(args.only or GROUPS)
    machine = report.machine_facts()
    workdir = Path(tempfile.mkdtemp(prefix="cellar-replication-", dir=args.workdir))
    secret = workdir / "secret" / "replication-secret"
    write_secret(secret)
    results: dict[str, dict] = {}
    failures: dict[str, str] = {}
    for kind in kinds:
        print(f"benchmarking {kind.name} ...", flush=True)
        result = results[kind.name] = {"server": kind.name}
        try:
            if "lag" in groups:
                result["lag"] = bench_lag(kind, args, workdir, secret)
            if "catchup" in groups:
                result["catchup"] = bench_catchup(kind, args, workdir, secret)
        except Exception as exc:  # report the other servers anyway
            failures[kind.name] = f"{type(exc).__name__}: {exc}\n{tail(_log(workdir, kind))}"
            print(f"  {kind.name} failed: {failures[kind.name]}", file=sys.stderr)
    rates = [float(r) for r in args.rates.split(",")]
    table, rows = targets_table(results, rates)
    payload = {"options": vars(args), "machine_at_start": machine, "results": results}
    payload.update(targets=rows, failures=failures)
    saved = report.save(payload, prefix="replication")
    print("\nLag: upload answered by the primary -> file served by the replica")
    print(lag_table(results))
    print("\nCatch-up of an empty replica (times from its spawn)")
    print(catchup_table(results))
    print("\nTargets")
    print(table)
    print(f"\nresults: {saved}")
    if args.keep:
        print(f"server directories and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
