"""The hosting targets of the issue, checked against one run, beside devpi's numbers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from tests.bench.report import _table


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    unit: str
    limit: float
    higher_is_better: bool
    measure: Callable[[dict], float | None]

    def passes(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.limit if self.higher_is_better else value <= self.limit

    @property
    def goal(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.limit:g}{self.unit}"


def _find(result: dict, kind: str, subject: str, depth: int, clients: int) -> dict | None:
    for item in result.get("cases", ()):
        key = (item["kind"], item["subject"], item["depth"], item["clients"])
        if key == (kind, subject, depth, clients):
            return item
    return None


def _field(kind, subject, depth, clients, field):
    def measure(result: dict) -> float | None:
        item = _find(result, kind, subject, depth, clients)
        return None if item is None else item[field]

    return measure


def _page_ratio(subject: str, depth: int, over: str):
    def measure(result: dict) -> float | None:
        top = _find(result, "page", subject, depth, 8)
        bottom = _find(result, "page", over, 0, 8)
        if top is None or bottom is None or not bottom["requests_per_second"]:
            return None
        return round(top["requests_per_second"] / bottom["requests_per_second"], 3)

    return measure


def _uploads(credential: str, clients: int):
    def measure(result: dict) -> float | None:
        for item in result.get("uploads", ()):
            if item["case"] == f"upload ({credential})" and item["clients"] == clients:
                return item["requests_per_second"]
        return None

    return measure


_PAGE_RATE = _field("page", "pkg-1", 0, 8, "requests_per_second")
_PAGE_P99 = _field("page", "pkg-1", 0, 8, "p99_ms")
_FILE_RATE = _field("download", "big-1mb", 0, 8, "mb_per_second")
_FILE_P99 = _field("download", "big-1mb", 0, 8, "p99_ms")

TARGETS = (
    Target("warm page (pkg-1), 8 clients", " req/s", 3500, True, _PAGE_RATE),
    Target("warm page (pkg-1), 8 clients, p99", " ms", 5, False, _PAGE_P99),
    Target("3 levels of bases / direct (pkg-1)", "x", 0.9, True, _page_ratio("pkg-1", 3, "pkg-1")),
    Target("3 levels / direct (pkg-100)", "x", 0.9, True, _page_ratio("pkg-100", 3, "pkg-100")),
    Target("2000 versions / 1 version", "x", 0.2, True, _page_ratio("pkg-2000", 0, "pkg-1")),
    Target("download 1 MB, 8 clients", " MB/s", 600, True, _FILE_RATE),
    Target("download 1 MB, 8 clients, p99", " ms", 40, False, _FILE_P99),
    Target("uploads with a password, 1 client", "/s", 100, True, _uploads("password", 1)),
    Target("uploads with a token, 1 client", "/s", 400, True, _uploads("token", 1)),
)


def evaluate(results: list[dict]) -> list[dict]:
    """One row per target: cellar's value, each devpi build's value, the ratio, pass/fail."""
    by_server = {result["server"]: result for result in results}
    rows = []
    for target in TARGETS:
        cellar = target.measure(by_server["cellar"]) if "cellar" in by_server else None
        row = {"target": target.name, "goal": target.goal, "cellar": cellar}
        row["pass"] = target.passes(cellar)
        for name, result in by_server.items():
            if name == "cellar":
                continue
            other = target.measure(result)
            row[name] = other
            row[f"vs {name}"] = _ratio(cellar, other, target.higher_is_better)
        rows.append(row)
    return rows


def _ratio(cellar: float | None, other: float | None, higher_is_better: bool) -> float | None:
    """How many times better cellar is (above 1 is better, whichever way the unit goes)."""
    if not cellar or not other:
        return None
    return round(cellar / other if higher_is_better else other / cellar, 2)


def targets_table(rows: list[dict], servers: list[str]) -> str:
    others = [name for name in servers if name != "cellar"]
    header = ["target", "goal", "cellar", *others, *(f"x {n}" for n in others), "pass"]
    body = []
    for row in rows:
        cells = [row["target"], row["goal"], _num(row["cellar"])]
        cells += [_num(row.get(name)) for name in others]
        cells += [_num(row.get(f"vs {name}")) for name in others]
        cells.append({True: "PASS", False: "FAIL", None: "-"}[row["pass"]])
        body.append(cells)
    return _table(header, body)


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
