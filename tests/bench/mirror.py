"""Benchmark the PyPI mirror over a local upstream: pip cold and warm, cached files, project list.

Run from the repository root: ``python -m tests.bench.mirror --server all``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from tests.bench import mirrorcases as cases
from tests.bench import report
from tests.bench import wrk
from tests.bench.servers import SERVER_NAMES
from tests.bench.servers import ServerKind
from tests.bench.servers import kinds_from_args
from tests.bench.servers import tail
from tests.bench.targets import Target

GROUPS = ("pip", "downloads", "names")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.mirror", description=__doc__)
    parser.add_argument("--server", choices=[*SERVER_NAMES, "all"], default="cellar")
    parser.add_argument("--runs", type=int, default=3, help="fresh servers per server kind [3]")
    parser.add_argument("--repeat", type=int, default=5, help="warm pip runs per server [5]")
    parser.add_argument("--threads", type=int, default=50, help="server worker threads [50]")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per download case")
    parser.add_argument("--clients", default="1,8", help="client counts for downloads [1,8]")
    parser.add_argument("--names", type=int, default=cases.NAME_LIST, help="project list size")
    parser.add_argument(
        "--list-timeout", type=float, default=300.0,
        help="seconds a server may take to answer the project list or to restart [300]",
    )  # fmt: skip
    parser.add_argument("--only", choices=GROUPS, action="append", help="run only these groups")
    parser.add_argument("--devpi-venv", help="virtualenv with devpi-server and devpi-web")
    parser.add_argument("--devpi-noweb-venv", help="virtualenv with devpi-server only")
    parser.add_argument("--keep", action="store_true", help="keep server dirs and logs")
    parser.add_argument("--workdir", help="make the server directories under this directory")
    return parser


def bench_all(bench: cases.Bench, kinds: list[ServerKind]) -> tuple[dict, dict]:
    """Rounds alternate between the servers, so a busy spell on the machine hits them alike."""
    results = {kind.name: {"server": kind.name, "rounds": []} for kind in kinds}
    failures: dict[str, str] = {}
    groups = set(bench.options.only or GROUPS)
    runs = bench.options.runs if groups & {"pip", "downloads"} else 0
    for run in range(1, runs + 1):
        for kind in kinds:
            if kind.name not in failures:
                outcome = _guarded(bench, kind, failures, cases.pip_round, run, groups)
                if outcome is not None:
                    results[kind.name]["rounds"].append(outcome)
    for kind in kinds if "names" in groups else ():
        if kind.name not in failures:
            results[kind.name]["names"] = _guarded(bench, kind, failures, cases.names_round)
    return results, failures


def _guarded(bench: cases.Bench, kind: ServerKind, failures: dict, step, *args):
    try:
        return step(bench, kind, *args)
    except Exception as exc:  # report the other servers anyway
        failures[kind.name] = f"{type(exc).__name__}: {exc}\n{tail(bench.log(kind))}"
        print(f"  {kind.name} failed: {failures[kind.name]}", file=sys.stderr)
        return None


def upstream_baseline(bench: cases.Bench) -> dict:
    """The upstream alone serving the project list (its pace bounds every mirror's)."""
    bench.upstream.set_name_list(bench.options.names)
    try:
        return cases.read_project_list(bench.upstream.index_url, bench.options.list_timeout)
    finally:
        bench.upstream.set_name_list(0)


# --- summary ---------------------------------------------------------------------------------


def summarise(result: dict) -> dict:
    """Min and median over the rounds of every figure."""
    summary: dict = {}
    rounds = [r for r in result["rounds"] if "cold" in r]
    if rounds:
        summary["direct"] = _spread([s for r in rounds for s in r["direct"]])
        summary["cold"] = _spread([r["cold"] for r in rounds])
        summary["warm"] = _spread([s for r in rounds for s in r["warm"]])
        summary["cold_ratio"] = _spread([paired_ratios(r)[0] for r in rounds])
        summary["warm_ratio"] = _spread([statistics.median(paired_ratios(r)[1:]) for r in rounds])
    loads: dict[str, list[dict]] = {}
    for item in (d for r in result["rounds"] for d in r["downloads"]):
        loads.setdefault(f"{item['case']}, {item['clients']} clients", []).append(item)
    summary["downloads"] = {key: _load_medians(items) for key, items in loads.items()}
    names = result.get("names")
    if names:
        summary["rss_after_list_mb"] = round(names["rss_after_list_kib"] / 1024, 1)
        summary["list_timed_out"] = names["first"]["timed_out"]
        summary["restart"] = _spread([r["ready_seconds"] for r in names["restarts"]])
    return summary


def paired_ratios(round_: dict) -> list[float]:
    """Each mirror run of a round over the mean of the direct runs just before and after
    it: cold first, then every warm run. Pairs in time cancel most of the drift in the
    machine's load; comparing with the fastest direct run instead would set one sample
    against the best of several, which is biased against the mirror."""
    direct = round_["direct"]
    runs = [round_["cold"], *round_["warm"]]
    return [run / ((direct[i] + direct[i + 1]) / 2) for i, run in enumerate(runs)]


def _spread(values: list[float]) -> dict:
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "n": len(values),
    }


def _load_medians(items: list[dict]) -> dict:
    medians = {f: statistics.median(i[f] for i in items) for f in ("mb_per_second", "p50_ms")}
    return {**medians, "p99_ms": statistics.median(i["p99_ms"] for i in items), "n": len(items)}


def _pick(*path: str):
    def measure(summary: dict) -> float | None:
        value = summary
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    return measure


def _list_rss(summary: dict) -> float | None:
    return None if summary.get("list_timed_out", True) else summary.get("rss_after_list_mb")


_FILE_8 = ("downloads", "download bench-big-1mb, 8 clients")
TARGETS = (
    Target("cold pip download / direct (median)", "x", 1.5, False, _pick("cold_ratio", "median")),
    Target("cold pip download / direct (min)", "x", 1.5, False, _pick("cold_ratio", "min")),
    Target("warm pip download / direct (median)", "x", 1.05, False, _pick("warm_ratio", "median")),
    Target("warm pip download / direct (min)", "x", 1.05, False, _pick("warm_ratio", "min")),
    Target("cached 1 MB wheel, 8 clients", " MB/s", 600, True, _pick(*_FILE_8, "mb_per_second")),
    Target("cached 1 MB wheel, 8 clients, p99", " ms", 40, False, _pick(*_FILE_8, "p99_ms")),
    Target("RSS after the 700,000-name list", " MB", 150, False, _list_rss),
    Target("start-up holding the list (median)", " s", 1.0, False, _pick("restart", "median")),
)


def evaluate(summaries: dict[str, dict]) -> list[dict]:
    """One row per target: cellar's value, each devpi build's, how many times better."""
    rows = []
    for target in TARGETS:
        cellar = target.measure(summaries["cellar"]) if "cellar" in summaries else None
        row = {"target": target.name, "goal": target.goal, "cellar": cellar}
        row["pass"] = target.passes(cellar)
        for name, summary in summaries.items():
            if name != "cellar":
                row[name] = other = target.measure(summary)
                row[f"vs {name}"] = _better(cellar, other, target.higher_is_better)
        rows.append(row)
    return rows


def _better(cellar: float | None, other: float | None, higher_is_better: bool) -> float | None:
    if not cellar or not other:
        return None
    return round(cellar / other if higher_is_better else other / cellar, 2)


def figures_table(summaries: dict[str, dict], results: dict[str, dict]) -> str:
    header = ["figure", "server", "min", "median", "n"]
    rows = []
    for name, summary in summaries.items():
        for key in ("direct", "cold", "warm", "cold_ratio", "warm_ratio", "restart"):
            if key in summary:
                spread = summary[key]
                label = f"pip {key} s" if "ratio" not in key and key != "restart" else key
                rows.append([label, name, f"{spread['min']:.3f}", f"{spread['median']:.3f}"])
                rows[-1].append(str(spread["n"]))
        for key, item in summary["downloads"].items():
            figures = f"{item['mb_per_second']:.0f} MB/s, p50 {item['p50_ms']:.1f} ms"
            figures += f", p99 {item['p99_ms']:.1f} ms"
            rows.append([key, name, "", figures, str(item["n"])])
        if results[name].get("names"):
            rows.extend(_names_rows(name, results[name]["names"]))
    return report._table(header, rows)


def _names_rows(name: str, names: dict) -> list[list[str]]:
    first, mb = names["first"], _megabytes(names)
    state = "did not finish in" if first["timed_out"] else "read in"
    memory = mb("rss_ready_kib", "rss_after_list_kib", "peak_kib")
    rows = [
        [f"project list {state} s", name, "", f"{first['seconds']:.2f}", "1"],
        ["project list MB sent", name, "", f"{first['bytes'] / 1e6:.1f}", "1"],
        ["RSS ready / after list / peak MB", name, "", memory, "1"],
    ]
    if "second" in names:
        rows.append(["project list again s", name, "", f"{names['second']['seconds']:.2f}", "1"])
        rows.append(["RSS after it again MB", name, "", mb("rss_after_second_kib"), "1"])
    rows.append(
        ["start-up, fresh directory s", name, "", f"{names['fresh_ready_seconds']:.2f}", "1"]
    )
    restart_rss = statistics.median(r["rss_kib"] for r in names["restarts"]) / 1024
    count = str(len(names["restarts"]))
    rows.append(["RSS at ready after restart MB", name, "", f"{restart_rss:.0f}", count])
    return rows


def _megabytes(names: dict):
    return lambda *keys: " / ".join(f"{names[key] / 1024:.0f}" for key in keys)


def print_report(summaries: dict, results: dict, baseline: dict | None, rows: list) -> None:
    print("\n" + figures_table(summaries, results))
    if baseline:
        seconds, megabytes = baseline["seconds"], baseline["bytes"] / 1e6
        state = "did not finish in" if baseline["timed_out"] else "in"
        print(f"\nupstream alone: project list {state} {seconds:.2f} s, {megabytes:.1f} MB")
    print("\nTargets (x = how many times better than devpi)")
    print(targets_table(rows, list(summaries)))


#: Decimal places by the unit of a goal: ratios to three places (1.055 fails <= 1.05).
PLACES = {"x": 3, " ms": 1, " s": 2}


def targets_table(rows: list[dict], servers: list[str]) -> str:
    """The targets with each server's value and how many times better cellar is."""
    others = [name for name in servers if name != "cellar"]
    header = ["target", "goal", "cellar", *others, *(f"x {name}" for name in others), "pass"]
    body = []
    for row in rows:
        places = next((n for unit, n in PLACES.items() if row["goal"].endswith(unit)), 0)
        cells = [row["target"], row["goal"]]
        cells += [_number(row.get(name), places) for name in ("cellar", *others)]
        cells += [_number(row.get(f"vs {name}"), 2) for name in others]
        body.append([*cells, {True: "PASS", False: "FAIL", None: "-"}[row["pass"]]])
    return report._table(header, body)


def _number(value: float | None, places: int) -> str:
    return "-" if value is None else f"{value:,.{places}f}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    kinds = kinds_from_args(args)
    if not kinds:
        return 2
    if not wrk.wrk_path():
        print("wrk not found: using the Python client (slower; rates are its limit)")
    machine = report.machine_facts()
    workdir = Path(tempfile.mkdtemp(prefix="cellar-mirror-", dir=args.workdir))
    bench = cases.Bench(cases.start_upstream(), workdir, args)
    try:
        baseline = upstream_baseline(bench) if "names" in (args.only or GROUPS) else None
        results, failures = bench_all(bench, kinds)
    finally:
        bench.upstream.stop()
    summaries = {name: summarise(result) for name, result in results.items()}
    rows = evaluate(summaries)
    payload = {"options": vars(args), "machine_at_start": machine, "upstream_list": baseline}
    payload.update(results=results, summaries=summaries, targets=rows, failures=failures)
    saved = report.save(payload, prefix="mirror")
    print_report(summaries, results, baseline, rows)
    print(f"\nresults: {saved}")
    if args.keep:
        print(f"server directories and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
