"""A real local PyPI (simple API + file host) for the mirror's tests and benchmarks."""

from __future__ import annotations

from tests.upstream.catalog import BENCH_ROOT
from tests.upstream.catalog import Catalog
from tests.upstream.catalog import DistFile
from tests.upstream.catalog import bench_catalog
from tests.upstream.catalog import seed_catalog
from tests.upstream.names import generate_names
from tests.upstream.server import Fault
from tests.upstream.server import RequestRecord
from tests.upstream.server import UpstreamServer

__all__ = [
    "BENCH_ROOT",
    "Catalog",
    "DistFile",
    "Fault",
    "RequestRecord",
    "UpstreamServer",
    "bench_catalog",
    "generate_names",
    "seed_catalog",
]
