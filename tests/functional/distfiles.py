"""Wheels and sdists built in memory, and uploads of them the way twine sends them."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import re
import tarfile
import zipfile
from collections.abc import Iterable
from collections.abc import Mapping

import requests

UPLOAD_FIELDS = ("summary", "requires_python")


@dataclasses.dataclass(frozen=True)
class Dist:
    """A distribution file: its name, bytes, and the core metadata inside it."""

    name: str
    version: str
    filename: str
    content: bytes
    metadata: bytes | None
    filetype: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def size(self) -> int:
        return len(self.content)


def escaped(name: str) -> str:
    """A project name as file names spell it (``my-pkg`` -> ``my_pkg``)."""
    return re.sub(r"[-_.]+", "_", name)


def core_metadata(
    name: str,
    version: str,
    *,
    summary: str = "a test package",
    requires_python: str | None = None,
    requires_dist: Iterable[str] = (),
    classifiers: Iterable[str] = (),
    description: str = "The long description.\n",
    description_content_type: str | None = None,
    extra_headers: Iterable[str] = (),
) -> bytes:
    """METADATA / PKG-INFO text (metadata version 2.1); ``extra_headers`` are further
    ``Name: value`` lines (``Keywords``, ``Author``, ``Home-page``, ...)."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines.append(f"Summary: {summary}")
    if requires_python is not None:
        lines.append(f"Requires-Python: {requires_python}")
    if description_content_type is not None:
        lines.append(f"Description-Content-Type: {description_content_type}")
    lines += [f"Classifier: {c}" for c in classifiers]
    lines += [f"Requires-Dist: {r}" for r in requires_dist]
    lines += list(extra_headers)
    return ("\n".join(lines) + "\n\n" + description).encode()


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def wheel(
    name: str,
    version: str,
    *,
    with_metadata: bool = True,
    filename: str | None = None,
    payload: bytes = b"VALUE = 1\n",
    **metadata,
) -> Dist:
    """A pure-Python wheel with ``*.dist-info/METADATA``, ``WHEEL`` and ``RECORD``."""
    stem = f"{escaped(name)}-{version}"
    raw = core_metadata(name, version, **metadata)
    members = {f"{escaped(name).lower()}/__init__.py": payload}
    if with_metadata:
        members[f"{stem}.dist-info/METADATA"] = raw
    members[f"{stem}.dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [_record_line(path, data) for path, data in members.items()]
    members[f"{stem}.dist-info/RECORD"] = (
        "\n".join([*record, f"{stem}.dist-info/RECORD,,"]) + "\n"
    ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    filename = filename or f"{stem}-py3-none-any.whl"
    return Dist(
        name, version, filename, buffer.getvalue(), raw if with_metadata else None, "bdist_wheel"
    )


def sdist(name: str, version: str, *, filename: str | None = None, **metadata) -> Dist:
    """A ``.tar.gz`` source distribution with ``{name}-{version}/PKG-INFO``."""
    stem = f"{escaped(name)}-{version}"
    raw = core_metadata(name, version, **metadata)
    members = {f"{stem}/PKG-INFO": raw, f"{stem}/setup.py": b"raise SystemExit\n"}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1700000000
            archive.addfile(info, io.BytesIO(data))
    return Dist(name, version, filename or f"{stem}.tar.gz", buffer.getvalue(), raw, "sdist")


def doczip(files: Mapping[str, bytes] | None = None) -> bytes:
    """A documentation zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in (files or {"index.html": b"<h1>docs</h1>"}).items():
            archive.writestr(path, data)
    return buffer.getvalue()


def upload_fields(dist: Dist, **overrides) -> dict:
    """twine's form fields for ``dist``; an override of ``None`` leaves the field out."""
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": dist.name,
        "version": dist.version,
        "filetype": dist.filetype,
        "pyversion": "py3" if dist.filetype == "bdist_wheel" else "source",
        "sha256_digest": dist.sha256,
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def upload(
    url: str,
    dist: Dist,
    auth: tuple[str, str] | None = None,
    *,
    content: bytes | None = None,
    filename: str | None = None,
    headers: Mapping[str, str] | None = None,
    **overrides,
) -> requests.Response:
    """POST ``dist`` to the index at ``url`` (``http://host/user/index/``) like twine."""
    part = (filename or dist.filename, dist.content if content is None else content)
    return requests.post(
        url,
        data=upload_fields(dist, **overrides),
        files={"content": (part[0], part[1], "application/octet-stream")},
        auth=auth,
        headers=dict(headers or {}),
        allow_redirects=False,
        timeout=30,
    )


def post_form(
    url: str, fields: Mapping, auth: tuple[str, str] | None = None, files=None
) -> requests.Response:
    """A multipart POST of ``fields`` (and ``files``) without the twine defaults."""
    parts = [(key, (None, value)) for key, value in fields.items()]
    parts += list((files or {}).items())
    return requests.post(url, files=parts, auth=auth, allow_redirects=False, timeout=30)
