"""A tiny project with a tox.ini that runs offline: its sources, its dists, an env for tox.

Tox runs it without a network only when it installs the **wheel** (``--installpkg
*.whl``, ``devpi test --select '\\.whl$'``): the project has no dependencies and the
tests need nothing but the package, so nothing is fetched or built in an isolated
environment. The test command prints ``answer() = N, expected 42`` and fails unless the
sample is ``passing``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import os
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Mapping
from pathlib import Path

from packaging.utils import canonicalize_name

#: Fixed archive timestamps, so that the same sample always gives the same bytes.
MTIME = 1_700_000_000
ZIP_DATE = (2023, 11, 14, 22, 13, 20)
#: Variables that would steer tox, virtualenv or pip away from what a test sets.
STEERING_PREFIXES = ("TOX_", "VIRTUALENV_", "PIP_", "UV_")


@dataclasses.dataclass(frozen=True)
class ToxSample:
    """A project whose only tox environment, ``py``, passes or fails as asked."""

    name: str = "tinypkg"
    version: str = "1.0"
    passing: bool = True

    @property
    def module(self) -> str:
        return canonicalize_name(self.name).replace("-", "_")

    @property
    def stem(self) -> str:
        """File name stem of its dists: ``tinypkg-1.0``."""
        return f"{self.module}-{self.version}"

    @property
    def wheel_name(self) -> str:
        return f"{self.stem}-py3-none-any.whl"

    @property
    def sdist_name(self) -> str:
        return f"{self.stem}.tar.gz"


@dataclasses.dataclass(frozen=True)
class ToxDists:
    """The wheel and the sdist of a sample, as files."""

    sample: ToxSample
    wheel: Path
    sdist: Path

    @property
    def files(self) -> tuple[Path, Path]:
        return (self.sdist, self.wheel)


def source_files(sample: ToxSample) -> dict[str, str]:
    """The project's files by relative path; ``python -m build`` can build it."""
    answer = 42 if sample.passing else 41
    return {
        "pyproject.toml": textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{sample.name}"
            version = "{sample.version}"
            description = "A tiny project that tox tests offline"
            requires-python = ">=3.8"
            """
        ),
        "MANIFEST.in": "include tox.ini\n",
        "tox.ini": textwrap.dedent(
            f"""\
            [tox]
            envlist = py

            [testenv]
            commands = python -m {sample.module}.selftest
            """
        ),
        f"src/{sample.module}/__init__.py": (
            f'"""{sample.name}: knows the answer."""\n\n\n'
            f"def answer() -> int:\n    return {answer}\n"
        ),
        f"src/{sample.module}/selftest.py": textwrap.dedent(
            f'''\
            """The test tox runs: is the answer right?"""

            import sys

            from {sample.module} import answer

            got = answer()
            print(f"answer() = {{got}}, expected 42")
            sys.exit(0 if got == 42 else 1)
            '''
        ),
    }


def write_tox_project(sample: ToxSample, directory: Path) -> Path:
    """Write the project into ``directory`` (created if needed); return it."""
    for relpath, text in source_files(sample).items():
        path = directory / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def metadata(sample: ToxSample) -> str:
    return (
        f"Metadata-Version: 2.1\nName: {sample.name}\nVersion: {sample.version}\n"
        "Summary: A tiny project that tox tests offline\nRequires-Python: >=3.8\n"
    )


def wheel_bytes(sample: ToxSample) -> bytes:
    """A pure-Python wheel of the sample, with METADATA, WHEEL and RECORD."""
    distinfo = f"{sample.stem}.dist-info"
    prefix = f"src/{sample.module}/"
    members = {
        path.removeprefix("src/"): text.encode()
        for path, text in source_files(sample).items()
        if path.startswith(prefix)
    }
    members[f"{distinfo}/METADATA"] = metadata(sample).encode()
    members[f"{distinfo}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: toxpkg\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [f"{path},{_record_hash(data)}" for path, data in members.items()]
    members[f"{distinfo}/RECORD"] = ("\n".join([*record, f"{distinfo}/RECORD,,"]) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            info = zipfile.ZipInfo(path, ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def sdist_bytes(sample: ToxSample) -> bytes:
    """A ``.tar.gz`` sdist: ``PKG-INFO``, the sources and the tox.ini."""
    members = {"PKG-INFO": metadata(sample), **source_files(sample)}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for relpath, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{sample.stem}/{relpath}")
            info.size, info.mtime = len(data), MTIME
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def build_tox_dists(sample: ToxSample, outdir: Path) -> ToxDists:
    """Write the sample's wheel and sdist into ``outdir``; no build backend is needed."""
    outdir.mkdir(parents=True, exist_ok=True)
    wheel = outdir / sample.wheel_name
    wheel.write_bytes(wheel_bytes(sample))
    sdist = outdir / sample.sdist_name
    sdist.write_bytes(sdist_bytes(sample))
    return ToxDists(sample, wheel, sdist)


def offline_tox_environ(base: Mapping[str, str], workdir: Path) -> dict[str, str]:
    """``base`` made safe for running tox offline.

    Drops every ``TOX_``, ``VIRTUALENV_``, ``PIP_`` and ``UV_`` variable, ignores pip's
    config files, shares virtualenv's seed cache under ``workdir`` and puts this
    interpreter's ``tox`` first on ``PATH``. The caller (``devpi test``, ``cellar test``)
    sets ``PIP_INDEX_URL`` to the server under test.
    """
    env = {k: v for k, v in base.items() if not k.startswith(STEERING_PREFIXES)}
    bindir = str(Path(sys.executable).parent)
    env.update(
        PATH=os.pathsep.join([bindir, env.get("PATH", os.defpath)]),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        VIRTUALENV_OVERRIDE_APP_DATA=str(workdir / "virtualenv-data"),
    )
    return env
