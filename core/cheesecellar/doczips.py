"""Documentation zips: which members are safe to unpack or read, and within what bounds.

Uploads are checked with :func:`check_doczip` before they are stored; whoever unpacks
or reads a stored zip (the web UI, a search engine) goes through :func:`doc_members`
and :func:`read_member` again, because a zip may also arrive by push or import.
"""

from __future__ import annotations

import dataclasses
import stat
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO

from cheesecellar.errors import BadRequest

MiB = 1024 * 1024


class DocZipError(BadRequest):
    """A documentation zip that must not be unpacked; the message names the member."""


@dataclasses.dataclass(frozen=True)
class DocLimits:
    """Bounds for one documentation zip, unpacked."""

    max_files: int = 20_000
    max_total: int = 500 * MiB
    max_member: int = 100 * MiB
    #: uncompressed / compressed size above which a member is taken for a zip bomb
    max_ratio: int = 1000


DEFAULT_LIMITS = DocLimits()


def safe_member_name(name: str) -> str | None:
    """The relative path a member may be unpacked to, or None if it would escape
    (absolute, ``..``, a drive letter, backslashes, control characters)."""
    if not name or "\\" in name or any(ord(c) < 32 for c in name):
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or ":" in path.parts[0]:
        return None
    parts = [part for part in path.parts if part != "."]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def _problem(info: zipfile.ZipInfo, limits: DocLimits) -> str | None:
    if safe_member_name(info.filename) is None:
        return f"member {info.filename!r} would be unpacked outside the documentation"
    if _is_link(info):
        return f"member {info.filename!r} is a symbolic link"
    if info.file_size > limits.max_member:
        return f"member {info.filename!r} is larger than {limits.max_member // MiB} MiB"
    if info.file_size > MiB and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        return f"member {info.filename!r} is compressed suspiciously well (a zip bomb?)"
    return None


def doc_members(
    zf: zipfile.ZipFile, limits: DocLimits = DEFAULT_LIMITS
) -> Iterator[tuple[zipfile.ZipInfo, str]]:
    """The file members of ``zf`` with the relative path each unpacks to.

    :raises DocZipError: for the first member that is unsafe, or when the zip as a whole
        is over the limits.
    """
    files = [info for info in zf.infolist() if not info.is_dir()]
    if len(files) > limits.max_files:
        raise DocZipError(f"documentation has {len(files)} files, at most {limits.max_files}")
    total = sum(info.file_size for info in files)
    if total > limits.max_total:
        raise DocZipError(f"documentation unpacks to more than {limits.max_total // MiB} MiB")
    for info in files:
        problem = _problem(info, limits)
        if problem is not None:
            raise DocZipError(f"documentation zip refused: {problem}")
    for info in files:
        yield info, safe_member_name(info.filename)


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, reading at most ``limit`` bytes whatever its header claims.

    :raises DocZipError: when the member holds more than ``limit`` bytes.
    """
    with zf.open(info) as fp:
        data = fp.read(limit + 1)
    if len(data) > limit:
        raise DocZipError(f"member {info.filename!r} is larger than it claims")
    return data


def check_doczip(fp: IO[bytes], limits: DocLimits = DEFAULT_LIMITS) -> int:
    """Check an uploaded documentation zip; return its number of files.

    :raises DocZipError: when it is not a zip or a member is unsafe.
    """
    try:
        with zipfile.ZipFile(fp) as zf:
            count = sum(1 for _ in doc_members(zf, limits))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DocZipError(f"documentation must be a zip file ({exc})") from None
    finally:
        fp.seek(0)
    return count
