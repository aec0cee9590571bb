"""Small wheels built in memory (METADATA, WHEEL, RECORD) and the upload form twine sends."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def build_wheel(project: str, version: str, payload: bytes = b"") -> tuple[str, bytes]:
    """``(filename, content)`` of a pure-Python wheel with one module and ``payload``."""
    module = project.replace("-", "_")
    distinfo = f"{module}-{version}.dist-info"
    members = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{distinfo}/METADATA": (
            f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"
            f"Summary: benchmark package\nRequires-Python: >=3.8\n"
        ).encode(),
        f"{distinfo}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    if payload:
        members[f"{module}/payload.bin"] = payload
    record = "".join(f"{name},{_record_hash(data)}\n" for name, data in members.items())
    members[f"{distinfo}/RECORD"] = (record + f"{distinfo}/RECORD,,\n").encode()
    out = io.BytesIO()
    # Stored, not deflated: a payload of random bytes would not shrink anyway.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return f"{module}-{version}-py3-none-any.whl", out.getvalue()


def upload_form(project: str, version: str, filename: str, content: bytes):
    """``(data, files)`` for ``requests``: the multipart fields twine sends with a wheel."""
    data = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": project,
        "version": version,
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "summary": "benchmark package",
        "requires_python": ">=3.8",
        "md5_digest": hashlib.md5(content, usedforsecurity=False).hexdigest(),
        "sha256_digest": hashlib.sha256(content).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(content, digest_size=32).hexdigest(),
    }
    files = {"content": (filename, content, "application/octet-stream")}
    return data, files
