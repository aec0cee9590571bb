"""Where cellar's start-up goes: interpreter, imports, plugins, init, app, argon2 (in-process).

Run ``python -m tests.bench.breakdown`` for a table; ``run.py`` calls :func:`measure` too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Modules listed in the import-time ranking.
TOP_IMPORTS = 15
_PROBE_MODULE = "tests.bench.breakdown"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class _Phases:
    """Records wall time and RSS after each named phase."""

    def __init__(self) -> None:
        self.rows: list[dict] = [{"phase": "interpreter ready", "ms": 0.0, "rss_kib": _rss_kib()}]
        self._last = time.perf_counter()

    def mark(self, phase: str) -> None:
        now = time.perf_counter()
        self.rows.append(
            {"phase": phase, "ms": round(1000 * (now - self._last), 1), "rss_kib": _rss_kib()}
        )
        self._last = now


def _probe(serverdir: str) -> list[dict]:
    """Start a server in this process the way ``cellar serve`` does, phase by phase."""
    phases = _Phases()
    from cheesecellar import cli

    phases.mark("import cheesecellar.cli")
    pm = cli.make_plugin_manager(blocked=[])
    phases.mark("plugin manager (imports plugins: pyramid, ...)")
    parser, options = cli.build_parser(pm)
    args = parser.parse_args(["serve", "--serverdir", serverdir, "--offline-mode", "--port", "0"])
    settings = cli.resolve_settings(options["serve"], args)
    phases.mark("argument parser + settings")
    import waitress

    from cheesecellar import server

    phases.mark("import server (pyramid, waitress, app)")
    running = _start_phases(server, settings, pm, phases)
    waitress.create_server(running.app, host="127.0.0.1", port=0).close()
    phases.mark("waitress create_server (bind)")
    running.close()
    phases.mark("close")
    return phases.rows


def _start_phases(server, settings, pm, phases: _Phases):
    fresh = not server.is_initialised(settings.serverdir)
    if fresh:
        pm.hook.cellar_configure(settings=settings)
        server.init_serverdir(settings, pm)
        phases.mark("init serverdir (includes 1 argon2 hash)")
    timed = _time_calls(server, "_warn_empty_root")
    running = server.start(settings, pm)
    phases.mark("start: storage, app, events, empty-root check")
    if timed:
        phases.rows.append({"phase": "  of which empty-root check (a hash comparison)", **timed})
    return running


def _time_calls(module, name: str) -> dict:
    """Wrap ``module.name`` so its wall time lands in the returned dict (empty if absent)."""
    original = getattr(module, name, None)
    if original is None:
        return {}
    timing = {"ms": 0.0, "rss_kib": 0}

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timing["ms"] += round(1000 * (time.perf_counter() - started), 1)
            timing["rss_kib"] = _rss_kib()

    setattr(module, name, timed)
    return timing


def _argon2_rows() -> list[dict]:
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    started = time.perf_counter()
    pwhash = hasher.hash("")
    hashed = time.perf_counter()
    hasher.verify(pwhash, "")
    verified = time.perf_counter()
    return [
        {"phase": "argon2 hash (alone)", "ms": round(1000 * (hashed - started), 1)},
        {"phase": "argon2 verify (alone)", "ms": round(1000 * (verified - hashed), 1)},
        {"phase": "argon2 parameters", "ms": 0.0, "detail": pwhash.split("$")[3]},
    ]


def _interpreter_ms() -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - started)
    return round(1000 * best, 1)


def _run_probe(serverdir: str) -> tuple[float, list[dict]]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", _PROBE_MODULE, "--probe", serverdir],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return round(1000 * (time.perf_counter() - started), 1), json.loads(out)


def import_ranking() -> list[dict]:
    """The slowest imports of ``cellar serve`` at any depth, cumulative (``-X importtime``).

    Imports run in the command's order (cli, plugin manager, server), so each cost is
    charged to whoever pulls the module in first. ``depth`` 0 is a top-level import.
    """
    code = (
        "import cheesecellar.cli as cli; cli.make_plugin_manager(blocked=[]);"
        "import cheesecellar.server"
    )
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    rows = []
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2][1:]
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append({"module": name.strip(), "depth": depth, "ms": int(parts[1]) / 1000})
    rows.sort(key=lambda row: -row["ms"])
    return [{**row, "ms": round(row["ms"], 1)} for row in rows[:TOP_IMPORTS]]


def measure() -> dict:
    """Fresh and initialised start-up phases, argon2 alone, interpreter, import ranking."""
    with tempfile.TemporaryDirectory(prefix="cellar-breakdown-") as tmp:
        serverdir = str(Path(tmp) / "serverdir")
        fresh_wall, fresh = _run_probe(serverdir)
        warm_wall, warm = _run_probe(serverdir)
    return {
        "interpreter_ms": _interpreter_ms(),
        "fresh": {"process_wall_ms": fresh_wall, "phases": fresh},
        "initialised": {"process_wall_ms": warm_wall, "phases": warm},
        "argon2": _argon2_rows(),
        "imports": import_ranking(),
    }


def format_breakdown(result: dict) -> str:
    lines = [f"python -c pass: {result['interpreter_ms']} ms"]
    for label in ("fresh", "initialised"):
        part = result[label]
        lines.append(f"\n{label} serverdir (whole probe process {part['process_wall_ms']} ms):")
        for row in part["phases"]:
            rss = row["rss_kib"] / 1024
            lines.append(f"  {row['phase']:<58} {row['ms']:>8.1f} ms  {rss:6.1f} MB")
    lines.append("\nargon2 (cellar's PasswordHasher defaults):")
    for row in result["argon2"]:
        value = row.get("detail") or f"{row['ms']:8.1f} ms"
        lines.append(f"  {row['phase']:<58} {value}")
    lines.append("\nslowest imports (cumulative, -X importtime; indent = depth):")
    for row in result["imports"]:
        name = "  " * row["depth"] + row["module"]
        lines.append(f"  {name:<58} {row['ms']:>8.1f} ms")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--probe"]:
        print(json.dumps(_probe(argv[1])))
        return 0
    print(format_breakdown(measure()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
