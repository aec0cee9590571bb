"""The on-disk project list of a mirror: normalised names, sorted, unique, one per line."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import tempfile
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from cheesecellar.model.names import normalize_name

_READ_SIZE = 1 << 20


def write_sorted_names(names: Iterable[str], dest: Path, *, chunk: int = 100_000) -> int:
    """Write ``names`` normalised, sorted and unique to ``dest``, replacing it atomically.

    Holds at most ``chunk`` names in memory: each chunk is sorted into a temporary run file
    beside ``dest`` and the runs are merged. Names that normalise to nothing are dropped.

    :returns: the number of names written.
    """
    dest = Path(dest)
    runs_dir = tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent)
    with runs_dir as tmp, contextlib.ExitStack() as stack:
        paths = _write_runs(names, Path(tmp), chunk)
        runs = [stack.enter_context(open(path, encoding="utf-8")) for path in paths]
        merged = heapq.merge(*(_lines(run) for run in runs))
        return _write_atomically(_unique(merged), dest)


def _write_runs(names: Iterable[str], directory: Path, chunk: int) -> list[Path]:
    """Split the normalised names into sorted, unique run files of at most ``chunk`` names."""
    normalised = (normalize_name(name) for name in names)
    wanted = iter(name for name in normalised if name.strip("-"))
    paths = []
    while batch := sorted(set(itertools.islice(wanted, chunk))):
        path = directory / f"run{len(paths)}"
        with open(path, "w", encoding="utf-8") as run:
            run.writelines(name + "\n" for name in batch)
        paths.append(path)
    return paths


def _lines(stream: TextIO) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\n")


def _unique(sorted_names: Iterable[str]) -> Iterator[str]:
    previous = None
    for name in sorted_names:
        if name != previous:
            yield name
            previous = name


def _write_atomically(names: Iterable[str], dest: Path) -> int:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    count = 0
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as out:
            for name in names:
                out.write(name + "\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return count


def iter_names(path: Path) -> Iterator[str]:
    """Stream the names of a list file, one at a time."""
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            name = line.rstrip("\n")
            if name:
                yield name


def count_names(path: Path) -> int:
    """Count the names of a list file without decoding it."""
    count = 0
    with open(path, "rb") as stream:
        while block := stream.read(_READ_SIZE):
            count += block.count(b"\n")
    return count
