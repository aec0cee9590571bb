"""The hosting load cases: warm simple pages through 0, 1 and 3 bases, and file downloads."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import requests
from tests.bench import wrk
from tests.bench.hostdata import CHAIN
from tests.bench.hostdata import PIP_ACCEPT
from tests.bench.hostdata import PROD
from tests.bench.hostdata import Hosted

#: The index a page is asked of, by how many levels of bases lie between it and the files.
DEPTHS = {0: PROD, 1: CHAIN[0], 3: CHAIN[2]}
PIP_HEADERS = {"Accept": PIP_ACCEPT, "User-Agent": "pip/24.0"}


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str  # "page" or "download"
    subject: str  # project name
    depth: int  # levels of bases (pages); 0 for downloads
    clients: int
    path: str
    size: int = 0  # bytes per response, for downloads

    @property
    def name(self) -> str:
        if self.kind == "page":
            return f"page {self.subject} +{self.depth} bases"
        return f"download {self.subject}"


def page_cases(projects, clients: tuple[int, ...]) -> list[Case]:
    return [
        Case("page", project, depth, count, f"/{index}/+simple/{project}/")
        for project in projects
        for depth, index in DEPTHS.items()
        for count in clients
    ]


def download_cases(hosted: Hosted, clients: tuple[int, ...]) -> list[Case]:
    return [
        Case("download", project, 0, count, path, size)
        for project, (path, size) in hosted.files.items()
        for count in clients
    ]


def run(hosted: Hosted, case: Case, duration: float) -> dict:
    """Warm the page (or file) with one request, then load it for ``duration`` seconds."""
    headers = PIP_HEADERS if case.kind == "page" else {"User-Agent": "pip/24.0"}
    url = hosted.base_url + case.path
    reply = requests.get(url, headers=headers, timeout=60)
    if reply.status_code != 200:
        raise RuntimeError(f"{case.path}: HTTP {reply.status_code} before the load started")
    if wrk.wrk_path():
        result = wrk.run(url, headers, case.clients, duration)
    else:
        port = urlsplit(hosted.base_url).port
        result = wrk.run_python(port, case.path, headers, case.clients, duration)
    result.update(dataclasses.asdict(case), case=case.name, body_bytes=len(reply.content))
    if case.kind == "download":
        result["mb_per_second"] = round(result["requests_per_second"] * case.size / 1e6, 1)
    return result
