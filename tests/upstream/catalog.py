"""The fake upstream's catalog: projects, releases and real installable wheels and sdists."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import gzip
import hashlib
import io
import json
import random
import shutil
import tarfile
import tempfile
import threading
import weakref
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from packaging.utils import canonicalize_name
from packaging.version import Version

IN_MEMORY_LIMIT = 8 * 1024 * 1024
UTC = datetime.UTC

FIXED_DATE = (2024, 1, 1, 0, 0, 0)
CHUNK = 1 << 20
WHEEL_FILE = (
    b"Wheel-Version: 1.0\nGenerator: upstream-kit\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
)


def payload_size(payload: bytes | int) -> int:
    """Size in bytes of a payload given as bytes or as a size."""
    return payload if isinstance(payload, int) else len(payload)


def payload_chunks(payload: bytes | int) -> Iterator[bytes]:
    """The payload's bytes; a size becomes deterministic incompressible data, made chunkwise."""
    if not isinstance(payload, int):
        yield from [payload] if payload else []
        return
    block = random.Random(payload).randbytes(min(CHUNK, payload))
    for offset in range(0, payload, CHUNK):
        yield ((offset // CHUNK).to_bytes(8, "big") + block[8:])[: payload - offset]


def core_metadata(project, version, requires, requires_python) -> bytes:
    """A METADATA / PKG-INFO file with the dependency edges pip reads."""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project}",
        f"Version: {version}",
        f"Summary: {project} served by a local test upstream",
    ]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    return ("\n".join(lines) + "\n").encode()


def build_wheel(target, project, version, requires, requires_python, payload) -> tuple[str, bytes]:
    """Write a pure-Python wheel to ``target``; returns ``(filename, METADATA)``."""
    stem = _file_stem(project)
    distinfo = f"{stem}-{version}.dist-info"
    metadata = core_metadata(project, version, requires, requires_python)
    record = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for name, data in ((f"{stem}/__init__.py", f"VERSION = {version!r}\n".encode()),):
            archive.writestr(_zip_entry(name), data)
            record.append(_record_line(name, hashlib.sha256(data), len(data)))
        if payload_size(payload):
            record.append(_write_payload(archive, f"{stem}/payload.bin", payload))
        for name, data in ((f"{distinfo}/METADATA", metadata), (f"{distinfo}/WHEEL", WHEEL_FILE)):
            archive.writestr(_zip_entry(name), data)
            record.append(_record_line(name, hashlib.sha256(data), len(data)))
        record.append(f"{distinfo}/RECORD,,\n")
        archive.writestr(_zip_entry(f"{distinfo}/RECORD"), "".join(record))
    return f"{stem}-{version}-py3-none-any.whl", metadata


def build_sdist(target, project, version, requires, requires_python) -> str:
    """Write a ``.tar.gz`` sdist (PKG-INFO, pyproject.toml, one module); returns its name."""
    root = f"{_file_stem(project)}-{version}"
    pyproject = (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f"[project]\nname = {json.dumps(project)}\nversion = {json.dumps(version)}\n"
        f"dependencies = {json.dumps(list(requires))}\n"
    )
    if requires_python:
        pyproject += f"requires-python = {json.dumps(requires_python)}\n"
    members = {
        f"{root}/PKG-INFO": core_metadata(project, version, requires, requires_python),
        f"{root}/pyproject.toml": pyproject.encode(),
        f"{root}/{_file_stem(project)}/__init__.py": f"VERSION = {version!r}\n".encode(),
    }
    with (
        gzip.GzipFile(fileobj=target, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1704067200
            archive.addfile(info, io.BytesIO(data))
    return f"{root}.tar.gz"


def _file_stem(project: str) -> str:
    return canonicalize_name(project).replace("-", "_")


def _zip_entry(name: str) -> zipfile.ZipInfo:
    # A fixed date keeps a catalog's files, and so their hashes, the same on every run.
    entry = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    entry.external_attr = 0o644 << 16
    return entry


def _record_line(name: str, hasher, size: int) -> str:
    digest = base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{size}\n"


def _write_payload(archive: zipfile.ZipFile, name: str, payload: bytes | int) -> str:
    hasher = hashlib.sha256()
    with archive.open(_zip_entry(name), "w", force_zip64=True) as out:
        for chunk in payload_chunks(payload):
            out.write(chunk)
            hasher.update(chunk)
    return _record_line(name, hasher, payload_size(payload))


@dataclasses.dataclass(frozen=True)
class DistFile:
    """One release file as the upstream lists and serves it."""

    project: str
    version: str
    filename: str
    kind: str
    size: int
    sha256: str
    requires_python: str | None
    yanked: bool | str
    upload_time: datetime.datetime
    metadata: bytes | None
    content: bytes | None = dataclasses.field(default=None, repr=False)
    path: Path | None = None

    @property
    def url_path(self) -> str:
        """Where the file host serves it: ``/files/<sha256[:2]>/<sha256>/<filename>``."""
        return f"/files/{self.sha256[:2]}/{self.sha256}/{self.filename}"

    @property
    def metadata_sha256(self) -> str | None:
        """sha256 of the PEP 658 metadata file, or None when there is none (sdists)."""
        return hashlib.sha256(self.metadata).hexdigest() if self.metadata is not None else None

    def open(self) -> BinaryIO:
        """The file's bytes, from memory or from disk for large files."""
        if self.content is not None:
            return io.BytesIO(self.content)
        return self.path.open("rb")

    def read(self) -> bytes:
        """All of the file's bytes (mind the size of large payloads)."""
        with self.open() as handle:
            return handle.read()


@dataclasses.dataclass
class Project:
    """A project's display name, its files and when it last changed."""

    name: str
    files: list[DistFile]
    serial: int
    last_modified: datetime.datetime

    @property
    def versions(self) -> list[str]:
        """Distinct versions, oldest first."""
        return sorted({file.version for file in self.files}, key=Version)


class Catalog:
    """Projects -> releases -> files; safe to change while a server reads it."""

    def __init__(self) -> None:
        self._projects: dict[str, Project] = {}
        self._by_sha256: dict[str, DistFile] = {}
        self._lock = threading.Lock()
        self._directory: Path | None = None
        self.serial = 0

    def add(
        self,
        project: str,
        version: str,
        *,
        requires: list[str] | tuple[str, ...] = (),
        payload: bytes | int = b"",
        requires_python: str | None = None,
        yanked: bool | str = False,
        upload_time: datetime.datetime | None = None,
        kind: str = "wheel",
    ) -> DistFile:
        """Build a real file for ``project`` ``version`` and list it; returns its info.

        :param requires: ``Requires-Dist`` lines, e.g. ``["idna<4,>=2.5"]``.
        :param payload: bytes to ship inside the wheel, or a size in bytes of generated data.
        :param yanked: ``False``, ``True`` or a reason (PEP 592).
        :param kind: ``"wheel"`` or ``"sdist"``.
        """
        built = self._build(project, version, list(requires), payload, requires_python, kind)
        filename, metadata, content, path = built
        sha256, size = _digest(content, path)
        info = DistFile(
            project=project,
            version=version,
            filename=filename,
            kind=kind,
            size=size,
            sha256=sha256,
            requires_python=requires_python,
            yanked=yanked,
            upload_time=upload_time or datetime.datetime.now(UTC),
            metadata=metadata,
            content=content,
            path=path,
        )
        with self._lock:
            self._insert(info)
        return info

    def yank(self, project: str, version: str, reason: bool | str = True) -> None:
        """Mark every file of a release as yanked (``reason=False`` un-yanks)."""
        with self._lock:
            entry = self._projects[canonicalize_name(project)]
            entry.files = [
                dataclasses.replace(file, yanked=reason) if file.version == version else file
                for file in entry.files
            ]
            self._by_sha256.update({file.sha256: file for file in entry.files})
            self._touch(entry)

    def project(self, name: str) -> Project | None:
        """A snapshot of the project called ``name`` (any spelling), or None."""
        with self._lock:
            entry = self._projects.get(canonicalize_name(name))
            return dataclasses.replace(entry, files=list(entry.files)) if entry else None

    def projects(self) -> list[Project]:
        """Snapshots of every project, in the order they were first added."""
        with self._lock:
            return [dataclasses.replace(p, files=list(p.files)) for p in self._projects.values()]

    def file(self, sha256: str) -> DistFile | None:
        """The file whose content hashes to ``sha256``."""
        return self._by_sha256.get(sha256)

    def files(self) -> list[DistFile]:
        """Every file, in the order added."""
        with self._lock:
            return [file for entry in self._projects.values() for file in entry.files]

    def close(self) -> None:
        """Remove the temporary directory holding large files, if any."""
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)

    def _build(self, project, version, requires, payload, requires_python, kind):
        fields = (project, version, requires, requires_python)
        if kind == "sdist":
            target = io.BytesIO()
            return build_sdist(target, *fields), None, target.getvalue(), None
        if payload_size(payload) <= IN_MEMORY_LIMIT:
            target = io.BytesIO()
            filename, meta = build_wheel(target, *fields, payload)
            return filename, meta, target.getvalue(), None
        path = self._large_file_directory() / f"{canonicalize_name(project)}-{version}.partial"
        with path.open("wb") as target:
            filename, meta = build_wheel(target, *fields, payload)
        final = path.with_name(filename)
        path.replace(final)
        return filename, meta, None, final

    def _large_file_directory(self) -> Path:
        with self._lock:
            if self._directory is None:
                self._directory = Path(tempfile.mkdtemp(prefix="upstream-files-"))
                weakref.finalize(self, shutil.rmtree, self._directory, True)
            return self._directory

    def _insert(self, info: DistFile) -> None:
        key = canonicalize_name(info.project)
        entry = self._projects.get(key)
        if entry is None:
            entry = Project(info.project, [], 0, datetime.datetime.fromtimestamp(0, UTC))
            self._projects[key] = entry
        entry.files = [file for file in entry.files if file.filename != info.filename]
        entry.files.append(info)
        self._by_sha256[info.sha256] = info
        self._touch(entry, info.upload_time)

    def _touch(self, entry: Project, when: datetime.datetime | None = None) -> None:
        # Last-Modified has whole seconds: each change moves it on by at least one, so a
        # client that sends back the value it got never gets a 304 for a page that changed.
        self.serial += 1
        entry.serial = self.serial
        when = (when or datetime.datetime.now(UTC)).replace(microsecond=0)
        entry.last_modified = max(when, entry.last_modified + datetime.timedelta(seconds=1))


def _digest(content: bytes | None, path: Path | None) -> tuple[str, int]:
    if content is not None:
        return hashlib.sha256(content).hexdigest(), len(content)
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest(), path.stat().st_size


REQUESTS_DEPS = (
    "charset-normalizer<4,>=2",
    "idna<4,>=2.5",
    "urllib3<3,>=1.21.1",
    "certifi>=2017.4.17",
    'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
    'chardet<6,>=3.0.2; extra == "use-chardet-on-py3"',
)
URLLIB3_EXTRAS = (
    'h2<5,>=4; extra == "h2"',
    'pysocks!=1.5.7,<2.0,>=1.5.6; extra == "socks"',
    'zstandard>=0.18.0; extra == "zstd"',
)
YANK_REASON = "Yanked due to conflicts with CVE-2024-35195 mitigation"
BOTH = ("wheel", "sdist")
# (project, version, requires, requires-python, upload time, yanked, kinds)
SEED_RELEASES = (
    ("certifi", "2024.7.4", (), ">=3.6", "2024-07-04T01:36:09", False, ("wheel",)),
    ("idna", "3.7", (), ">=3.5", "2024-04-11T03:34:41", False, ("wheel",)),
    ("urllib3", "2.2.2", URLLIB3_EXTRAS, ">=3.8", "2024-06-17T13:40:10", False, ("wheel",)),
    ("charset-normalizer", "3.3.2", (), ">=3.7.0", "2023-11-01T04:02:58", False, ("wheel",)),
    ("requests", "2.31.0", REQUESTS_DEPS, ">=3.7", "2023-05-22T15:12:42", False, ("wheel",)),
    ("requests", "2.32.0", REQUESTS_DEPS, ">=3.8", "2024-05-20T15:21:39", YANK_REASON, ("wheel",)),
    ("requests", "2.32.3", REQUESTS_DEPS, ">=3.8", "2024-05-29T15:37:47", False, BOTH),
)
BENCH_ROOT = "bench-pkg-00"
BENCH_EPOCH = datetime.datetime(2024, 1, 1, tzinfo=UTC)


def seed_catalog() -> Catalog:
    """A fake ``requests 2.32.3`` (plus 2.31.0, and 2.32.0 yanked) with its four dependencies.

    The dependency edges, Requires-Python and upload times are those of the real releases;
    the files are tiny real wheels (and an sdist for requests 2.32.3).
    """
    catalog = Catalog()
    for project, version, requires, python, uploaded, yanked, kinds in SEED_RELEASES:
        when = datetime.datetime.fromisoformat(uploaded).replace(tzinfo=UTC)
        for kind in kinds:
            catalog.add(
                project,
                version,
                requires=requires,
                requires_python=python,
                upload_time=when,
                yanked=yanked,
                kind=kind,
            )
    return catalog


def bench_name(index: int) -> str:
    """Name of the ``index``-th package of :func:`bench_catalog`."""
    return f"bench-pkg-{index:02d}"


def bench_catalog(
    n: int = 30, *, versions: tuple[str, ...] = ("1.0.0", "1.1.0", "1.2.0"), payload=16 * 1024
) -> Catalog:
    """``n`` interdependent packages; installing :data:`BENCH_ROOT` pulls in all ``n``.

    Package ``i`` requires ``i + 1``, ``2i + 1`` and ``2i + 2`` (those below ``n``); each has
    one wheel of about ``payload`` bytes per version.
    """
    catalog = Catalog()
    for index in range(n):
        children = {index + 1, 2 * index + 1, 2 * index + 2}
        requires = [f"{bench_name(child)}>=1.0" for child in sorted(children) if child < n]
        for number, version in enumerate(versions):
            catalog.add(
                bench_name(index),
                version,
                requires=requires,
                payload=payload,
                requires_python=">=3.8",
                upload_time=BENCH_EPOCH + datetime.timedelta(days=30 * number),
            )
    return catalog
