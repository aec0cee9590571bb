"""Plain-text tables of benchmark results, and the JSON file they are saved in."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    aligns = ["<"] + [">"] * (len(widths) - 1)
    line = "  ".join(f"{{:{align}{width}}}" for align, width in zip(aligns, widths, strict=True))
    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line.format(*header), rule, *(line.format(*row) for row in rows)])


def _mb(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def startup_table(results: list[dict]) -> str:
    header = [
        "server",
        "serverdir",
        "min s",
        "median s",
        "RSS at ready MB",
        "peak MB",
        "RSS after load MB",
    ]
    rows = []
    for result in results:
        for label, key in (("initialised", "startup_initialised"), ("fresh", "startup_fresh")):
            starts = result[key]
            after = _mb(result["rss_after_load_kib"]) if label == "initialised" else ""
            rows.append(
                [
                    result["server"],
                    label,
                    f"{starts['total_seconds_min']:.3f}",
                    f"{starts['total_seconds_median']:.3f}",
                    _mb(starts["rss_ready_kib_median"]),
                    _mb(starts["peak_rss_ready_kib_max"]),
                    after,
                ]
            )
    return _table(header, rows)


def load_table(results: list[dict]) -> str:
    header = ["server", "request", "clients", "req/s", "p50 ms", "p99 ms", "requests", "errors"]
    rows = []
    for result in results:
        for load in result["load"]:
            rows.append(
                [
                    result["server"],
                    load["case"],
                    str(load["clients"]),
                    f"{load['requests_per_second']:.0f}",
                    f"{load['p50_ms']:.2f}",
                    f"{load['p99_ms']:.2f}",
                    str(load["requests"]),
                    str(load["errors"]),
                ]
            )
    return _table(header, rows)


def save(payload: dict, prefix: str = "bench") -> Path:
    """Write ``payload`` with machine facts to a timestamped JSON file in ``results/``."""
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"{prefix}-{stamp}.json"
    payload = {"machine_at_end": machine_facts(), "created": stamp, **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def machine_facts() -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
    }
