"""Export and import throughput: a server with 2,000 releases dumped and restored, beside
devpi-server's devpi-export and devpi-import on the same data in the same run."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import replicacases as cases
from tests.bench import report
from tests.bench.mirrorcases import server_env
from tests.bench.replication import MIXED_SIZES
from tests.bench.report import _table
from tests.bench.servers import ServerKind
from tests.bench.servers import resolve_kinds

from cheesecellar.auth.secret import write_secret

SERVERS = ("cellar", "devpi")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.dumps", description=__doc__)
    parser.add_argument("--server", choices=[*SERVERS, "all"], default="cellar")
    parser.add_argument("--releases", type=int, default=2000, help="wheels uploaded [2000]")
    parser.add_argument("--big-files", type=int, default=25, help="files of the MB/s case [25]")
    parser.add_argument("--big-size", type=int, default=4_000_000, help="their size [4 MB]")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each command [3]")
    parser.add_argument("--devpi-venv", help="virtualenv with devpi-server (6.20.3)")
    parser.add_argument("--keep", action="store_true", help="keep server dirs, dumps and logs")
    parser.add_argument("--workdir", help="make the server directories under this directory")
    return parser


@dataclasses.dataclass(frozen=True)
class Dumper:
    """How one server kind exports and imports (cellar's commands, or devpi's scripts)."""

    kind: ServerKind

    def export_command(self, serverdir: Path, target: Path, hard_links: bool) -> list[str]:
        links = ["--hard-links"] if hard_links else []
        if self.kind.init_exe is None:
            return [str(self.kind.serve_exe), "export", "--serverdir", str(serverdir), *links,
                    str(target)]  # fmt: skip
        exe = self.kind.serve_exe.with_name("devpi-export")
        return [str(exe), "--serverdir", str(serverdir), *links, str(target)]

    def import_command(self, serverdir: Path, source: Path) -> list[str]:
        if self.kind.init_exe is None:
            return [str(self.kind.serve_exe), "import", "--serverdir", str(serverdir), str(source)]
        exe = self.kind.serve_exe.with_name("devpi-import")
        return [str(exe), "--serverdir", str(serverdir), "--no-root-pypi", str(source)]


def timed(command: list[str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=server_env(), check=True)
    return time.perf_counter() - started


def dump_contents(dump: Path) -> tuple[int, int]:
    """(files, bytes) of a dump, the index document left out."""
    count = size = 0
    for here, _dirs, names in os.walk(dump):
        for name in names:
            if name not in ("cellar-export.json", "dataindex.json"):
                count += 1
                size += os.path.getsize(os.path.join(here, name))
    return count, size


def fill(kind: ServerKind, serverdir: Path, log: Path, secret: Path, name: str, uploads) -> None:
    node = cases.start_node(kind, serverdir, log, secret)
    try:
        token = cases.login(node)
        print(f"  {kind.name}: uploading {len(uploads)} wheels for '{name}' ...", flush=True)
        clients = 4 if kind.init_exe is None else 1  # devpi's writers only queue behind each other
        cases.fill_primary(node, token, f"{cases.USER}/{name}", uploads, clients)
    finally:
        node.server.stop()


def measure(dumper: Dumper, serverdir: Path, workdir: Path, log: Path, runs: int, name: str):
    """Time export (copies and hard links) and import ``runs`` times each."""
    results = {}
    for hard_links in (False, True):
        seconds = []
        for run in range(runs):
            target = workdir / f"{dumper.kind.name}-{name}-dump-{int(hard_links)}-{run}"
            seconds.append(timed(dumper.export_command(serverdir, target, hard_links), log))
        results["export --hard-links" if hard_links else "export"] = seconds
    dump = workdir / f"{dumper.kind.name}-{name}-dump-0-0"
    seconds = []
    for run in range(runs):
        target = workdir / f"{dumper.kind.name}-{name}-imported-{run}"
        seconds.append(timed(dumper.import_command(target, dump), log))
    results["import"] = seconds
    return results, dump


def summarise(timings: dict[str, list[float]], files: int, size: int, releases: int) -> list:
    rows = []
    for command, seconds in timings.items():
        median = statistics.median(seconds)
        rows.append({
            "command": command, "median_s": median, "min_s": min(seconds), "files": files,
            "bytes": size, "releases_per_s": releases / median, "files_per_s": files / median,
            "mb_per_s": size / 1e6 / median,
        })  # fmt: skip
    return rows


def bench_kind(kind: ServerKind, args, workdir: Path, secret: Path, log: Path) -> dict:
    dumper = Dumper(kind)
    plans = [("mixed", args.releases, MIXED_SIZES), ("big", args.big_files, [args.big_size])]
    result = {}
    for name, count, sizes in plans:
        if not count:
            continue
        serverdir = workdir / f"{kind.name}-{name}"
        fill(kind, serverdir, log, secret, name, cases.catchup_uploads(
            f"{cases.USER}/{name}", count, sizes, name))  # fmt: skip
        timings, dump = measure(dumper, serverdir, workdir, log, args.runs, name)
        files, size = dump_contents(dump)
        rows = summarise(timings, files, size, count)
        result[name] = {"rows": rows, "dump": str(dump), "releases": count}
        for row in rows:
            print(f"  {kind.name} {name} {row['command']}: {row['median_s']:.2f} s, "
                  f"{row['files_per_s']:.0f} files/s, {row['mb_per_s']:.1f} MB/s")  # fmt: skip
    return result


def migration(cellar: ServerKind, devpi_result: dict, workdir: Path, log: Path, runs: int):
    """``cellar import`` of the dumps devpi-export wrote: a devpi user's migration."""
    rows = {}
    for name, item in devpi_result.items():
        dump = Path(item["dump"])
        seconds = [
            timed(Dumper(cellar).import_command(workdir / f"migrated-{name}-{run}", dump), log)
            for run in range(runs)
        ]
        files, size = dump_contents(dump)
        command = {"cellar import (devpi dump)": seconds}
        rows[name] = {"rows": summarise(command, files, size, item["releases"])}
    return rows


def table(results: dict[str, dict]) -> str:
    header = ["server", "case", "command", "median s", "min s", "files", "MB", "releases/s",
              "files/s", "MB/s"]  # fmt: skip
    lines = []
    for server, by_case in results.items():
        for case, item in by_case.items():
            for row in item["rows"]:
                lines.append([
                    server, case, row["command"], f"{row['median_s']:.2f}", f"{row['min_s']:.2f}",
                    str(row["files"]), f"{row['bytes'] / 1e6:.1f}", f"{row['releases_per_s']:.0f}",
                    f"{row['files_per_s']:.0f}", f"{row['mb_per_s']:.1f}",
                ])  # fmt: skip
    return _table(header, lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = list(SERVERS) if args.server == "all" else [args.server]
    kinds = resolve_kinds(names, args.devpi_venv, None)
    if not kinds:
        return 2
    machine = report.machine_facts()
    workdir = Path(tempfile.mkdtemp(prefix="cellar-dumps-", dir=args.workdir))
    secret = workdir / "secret" / "replication-secret"
    write_secret(secret)
    results: dict[str, dict] = {}
    for kind in kinds:
        print(f"benchmarking {kind.name} ...", flush=True)
        results[kind.name] = bench_kind(kind, args, workdir, secret, workdir / f"{kind.name}.log")
    if "devpi" in results and "cellar" in results:
        cellar = next(kind for kind in kinds if kind.name == "cellar")
        log = workdir / "migration.log"
        migrated = migration(cellar, results["devpi"], workdir, log, args.runs)
        results["cellar"].update({f"{case} (from devpi)": item for case, item in migrated.items()})
    payload = {"options": vars(args), "machine_at_start": machine, "results": results}
    saved = report.save(payload, prefix="dumps")
    print("\nExport and import (wall time of the whole command, server stopped)")
    print(table(results))
    print(f"\nresults: {saved}")
    if args.keep:
        print(f"server directories, dumps and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
