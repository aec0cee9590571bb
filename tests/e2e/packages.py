"""Sample distributions for end-to-end tests: tiny setuptools projects built with ``build``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

#: Seconds one ``python -m build`` may take.
BUILD_TIMEOUT = 120


@dataclasses.dataclass(frozen=True)
class Sample:
    """A project to build: its name, version and dependencies.

    Samples that differ only in ``variant`` make files with the same names and different
    content.
    """

    name: str
    version: str
    dependencies: tuple[str, ...] = ()
    requires_python: str = ">=3.8"
    variant: int = 0

    @property
    def key(self) -> str:
        return f"{canonicalize_name(self.name)}-{self.version}-{self.variant}"

    @property
    def module(self) -> str:
        return canonicalize_name(self.name).replace("-", "_")


@dataclasses.dataclass(frozen=True)
class Built:
    """The wheel and the sdist of a sample."""

    sample: Sample
    wheel: Path
    sdist: Path

    @property
    def files(self) -> tuple[Path, Path]:
        return (self.wheel, self.sdist)


def write_project(sample: Sample, directory: Path) -> Path:
    """Write the sources of ``sample`` into ``directory``; return it."""
    package = directory / "src" / sample.module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        f'"""Sample {sample.name} {sample.version}."""\n\nVARIANT = {sample.variant}\n'
    )
    dependencies = ", ".join(f'"{dep}"' for dep in sample.dependencies)
    (directory / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{sample.name}"
            version = "{sample.version}"
            description = "A sample for end-to-end tests"
            requires-python = "{sample.requires_python}"
            dependencies = [{dependencies}]
            """
        )
    )
    return directory


class DistBuilder:
    """Builds samples once per session; each is built in a directory of its own."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._built: dict[Sample, Built] = {}

    def build(self, *samples: Sample) -> list[Built]:
        """The built ``samples``, building the missing ones side by side."""
        self._build_missing([s for s in dict.fromkeys(samples) if s not in self._built])
        return [self._built[sample] for sample in samples]

    def _build_missing(self, samples: Iterable[Sample]) -> None:
        running = {}
        for sample in samples:
            source = write_project(sample, self.workdir / "src" / sample.key)
            outdir = self.workdir / "dist" / sample.key
            command = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir)]
            running[sample] = (outdir, _start([*command, str(source)]))
        for sample, (outdir, process) in running.items():
            output, _ = process.communicate(timeout=BUILD_TIMEOUT)
            if process.returncode != 0:
                raise RuntimeError(f"building {sample.key} failed:\n{output}")
            self._built[sample] = Built(
                sample, _one(outdir.glob("*.whl")), _one(outdir.glob("*.tar.gz"))
            )


def _start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _one(paths: Iterable[Path]) -> Path:
    (path,) = paths
    return path
