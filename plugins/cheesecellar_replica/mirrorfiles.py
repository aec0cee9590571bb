"""A replica's mirror files: the primary downloads and keeps a file, the replica streams it.

A file a mirror page lists but the replica does not hold is asked of the primary's public
file URL; the primary fetches it upstream (once, however many ask), verifies and stores
it. The replica passes the bytes on as they come, holding the last ones back until the
hashes the page advertises match, and gets its own copy through replication.
"""

from __future__ import annotations

import hashlib
import logging

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response

from cheesecellar.errors import CellarError
from cheesecellar.model.distfiles import MAX_METADATA_BYTES
from cheesecellar.views.files import IMMUTABLE
from cheesecellar.views.files import content_type_for
from cheesecellar_mirror.downloads import CHUNK
from cheesecellar_mirror.downloads import HOLD_BACK
from cheesecellar_mirror.downloads import DownloadFailed
from cheesecellar_mirror.fileentries import find_entry
from cheesecellar_replica.readthrough import PrimaryReads
from cheesecellar_replica.readthrough import PrimaryUnavailable
from cheesecellar_replica.readthrough import message_of

log = logging.getLogger(__name__)


class ReplicaMirrorFiles:
    """The file source of mirror indexes on a replica (see ``IndexType.file_source``)."""

    def __init__(self, pages, reads: PrimaryReads) -> None:
        self.pages = pages
        self.reads = reads

    def respond(self, request, indexname: str, config: dict, relpath: str):
        wheel = relpath.removesuffix(".metadata")
        found = find_entry(self.pages, request.tx, indexname, wheel)
        if found is None:
            return None
        entry = found[2]
        if relpath != wheel:
            return self._metadata(relpath, entry)
        if config.get("mirror_use_external_urls"):
            return HTTPFound(location=entry["upstream_url"])
        answer = self._open(relpath, entry["filename"])
        response = Response(
            app_iter=VerifiedStream(answer, entry), content_type=content_type_for(relpath)
        )
        length = answer.headers.get("Content-Length")
        if length and length.isdigit() and "Content-Encoding" not in answer.headers:
            response.content_length = int(length)
        response.headers["X-Accel-Buffering"] = "no"
        return response

    def _open(self, relpath: str, filename: str):
        """The primary's streamed 200 answer for the file; errors as a clear status."""
        try:
            answer = self.reads.open("/" + relpath)
        except PrimaryUnavailable as exc:
            raise CellarError(
                f"{filename} is not on this replica yet and its primary is unavailable ({exc})",
                status=502,
            ) from None
        if answer.status_code == 200:
            return answer
        with answer:
            message = message_of(answer)
        status = answer.status_code if answer.status_code in (404, 410) else 502
        log.warning("the primary answered %s for %s: %s", answer.status_code, relpath, message)
        raise CellarError(f"the primary could not deliver {filename}: {message}", status=status)

    def _metadata(self, relpath: str, entry: dict):
        """A wheel's PEP 658 file, as the primary fetched and keeps it."""
        wanted = entry.get("core_metadata")
        if not entry["filename"].endswith(".whl") or not wanted:
            return None
        with self._open(relpath, relpath.rpartition("/")[2]) as answer:
            data = answer.raw.read(MAX_METADATA_BYTES + 1)
        if len(data) > MAX_METADATA_BYTES or _mismatch(wanted, data):
            raise CellarError(f"the primary sent wrong metadata for {entry['filename']}", 502)
        response = Response(body=data, content_type="application/octet-stream")
        response.cache_control = IMMUTABLE
        return response


class VerifiedStream:
    """The primary's bytes as they arrive, the last :data:`HOLD_BACK` of them only once
    the size and every known hash of ``entry`` match."""

    def __init__(self, answer, entry: dict) -> None:
        self.answer = answer
        self.entry = entry

    def __iter__(self):
        digests = {name: hashlib.new(name) for name in _known_hashes(self.entry["hashes"])}
        held, size = b"", 0
        for chunk in self.answer.iter_content(CHUNK):
            size += len(chunk)
            for digest in digests.values():
                digest.update(chunk)
            held += chunk
            if len(held) > HOLD_BACK:
                yield held[:-HOLD_BACK]
                held = held[-HOLD_BACK:]
        self._verify(digests, size)
        yield held

    def _verify(self, digests: dict, size: int) -> None:
        entry = self.entry
        problem = None
        if entry.get("size") is not None and size != entry["size"]:
            problem = f"got {size} bytes, the page says {entry['size']}"
        for name, digest in digests.items():
            if digest.hexdigest() != entry["hashes"][name].lower():
                problem = f"{name} mismatch"
        if problem is not None:
            log.error("the primary sent a wrong %s: %s", entry["filename"], problem)
            raise DownloadFailed(f"{entry['filename']}: {problem}")

    def close(self) -> None:
        self.answer.close()


def _known_hashes(hashes: dict[str, str]) -> list[str]:
    return [name for name in hashes if name in hashlib.algorithms_available]


def _mismatch(wanted: dict[str, str], data: bytes) -> bool:
    return any(
        hashlib.new(name, data).hexdigest() != value.lower()
        for name, value in wanted.items()
        if name in hashlib.algorithms_available
    )
