"""Mirror files fetched on first request: one upstream download per file, streamed to
every client that asks meanwhile, verified before the last bytes go out, then stored."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response

from cheesecellar.errors import CellarError
from cheesecellar.errors import NotFound
from cheesecellar.model.distfiles import MAX_METADATA_BYTES
from cheesecellar.views.files import IMMUTABLE
from cheesecellar.views.files import content_type_for
from cheesecellar_mirror.fileentries import find_entry
from cheesecellar_mirror.storefile import store_download
from cheesecellar_mirror.storefile import store_metadata
from cheesecellar_mirror.upstream import UpstreamError

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
#: Bytes held back from every client until the whole file is verified.
HOLD_BACK = CHUNK


class DownloadFailed(Exception):
    """Raised into the response body: the server drops the connection, so the client
    sees an incomplete download instead of a complete, corrupt file."""


class Download:
    """One file being fetched into a temporary file; readers follow its progress."""

    def __init__(self, path) -> None:
        self.path = path
        self.cond = threading.Condition()
        self.written = 0
        self.total: int | None = None
        self.state = "starting"  # -> "running" -> "done" | "failed"
        self.error = ""
        self.status = 502

    def announce(self, total: int | None) -> None:
        with self.cond:
            self.total, self.state = total, "running"
            self.cond.notify_all()

    def advance(self, count: int) -> None:
        with self.cond:
            self.written += count
            self.cond.notify_all()

    def finish(self, error: str = "", status: int = 502) -> None:
        with self.cond:
            self.state = "failed" if error else "done"
            self.error, self.status = error, status
            self.cond.notify_all()

    def wait_sendable(self) -> None:
        """Wait until bytes may go out to a client, or the download has ended: a
        download that fails before then is answered with an error status."""
        with self.cond:
            self.cond.wait_for(lambda: self.state in ("done", "failed") or self._sendable() > 0)

    def follow(self, fp):
        """Yield the file's bytes as they arrive, all but the last ``HOLD_BACK`` until
        the download is verified; raise :class:`DownloadFailed` if it fails."""
        sent = 0
        try:
            while True:
                with self.cond:
                    self.cond.wait_for(lambda sent=sent: self._ready(sent))
                    if self.state == "failed":
                        raise DownloadFailed(self.error)
                    limit, done = self._sendable(), self.state == "done"
                while sent < limit:
                    data = fp.read(min(CHUNK, limit - sent))
                    if not data:
                        raise DownloadFailed("the temporary file ended early")
                    sent += len(data)
                    yield data
                if done and sent >= self.written:
                    return
        finally:
            fp.close()

    def _ready(self, sent: int) -> bool:
        return self._sendable() > sent or self.state != "running"

    def _sendable(self) -> int:
        return self.written if self.state == "done" else max(self.written - HOLD_BACK, 0)


class Downloads:
    """The file source of mirror indexes (see ``IndexType.file_source``)."""

    def __init__(self, service) -> None:
        self.service = service
        self._active: dict[str, Download] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no download is running or being stored (at shutdown, so that a
        file a client already received is kept); False if some still run."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout)

    def respond(self, request, indexname: str, config: dict, relpath: str):
        if relpath.endswith(".metadata"):
            return self._metadata(request, indexname, config, relpath)
        found = find_entry(self.service, request.tx, indexname, relpath)
        if found is None:
            return None
        project, version, entry = found
        if config.get("mirror_use_external_urls"):
            return HTTPFound(location=entry["upstream_url"])
        if self.service.offline:
            raise NotFound(f"{entry['filename']} is not cached and the server is offline")
        download, fp = self._join(indexname, config, relpath, project, version, entry)
        return self._response(download, fp, relpath)

    def _join(self, indexname, config, relpath, project, version, entry):
        with self._lock:
            download = self._active.get(relpath)
            if download is None:
                download = Download(self.service.tmpdir / f"file-{uuid.uuid4().hex}")
                download.path.touch()
                self._active[relpath] = download
                args = (download, indexname, config, relpath, project, version, entry)
                threading.Thread(target=self._fetch, args=args, daemon=True).start()
            # Opened now: the temporary file is removed once the download is stored.
            fp = open(download.path, "rb")  # noqa: SIM115 - closed by Download.follow
        return download, fp

    def _response(self, download: Download, fp, relpath: str) -> Response:
        download.wait_sendable()
        if download.state == "failed":
            fp.close()
            raise CellarError(download.error, status=download.status)
        response = Response(app_iter=download.follow(fp), content_type=content_type_for(relpath))
        if download.total is not None:
            response.content_length = download.total
        response.headers["X-Accel-Buffering"] = "no"
        return response

    def _fetch(self, download, indexname, config, relpath, project, version, entry) -> None:
        try:
            self._fetch_into(download, indexname, config, entry)
            download.finish()  # verified: the held-back bytes may go out now
            self._store(download, indexname, relpath, entry, project, version)
        except UpstreamError as exc:
            status = 404 if getattr(exc, "status", None) == 404 else 502
            log.warning("%s: download of %s failed: %s", indexname, entry["filename"], exc)
            download.finish(f"upstream failed for {entry['filename']}: {exc}", status)
        except Exception as exc:
            log.warning("%s: download of %s failed: %s", indexname, entry["filename"], exc)
            download.finish(f"download of {entry['filename']} failed: {exc}")
        finally:
            with self._idle:
                self._active.pop(relpath, None)
                self._idle.notify_all()
            os.unlink(download.path)

    def _store(self, download, indexname, relpath, entry, project, version) -> None:
        """Store the verified file; it stays in the active downloads until then, so
        a request meanwhile follows the temporary file instead of fetching again."""
        where = {"index": indexname, "project": project, "version": version}
        try:
            store_download(self.service.storage, download.path, relpath, entry, where)
        except Exception as exc:  # the clients have their verified bytes; fetch it next time
            log.warning("%s: storing %s failed: %s", indexname, entry["filename"], exc)

    def _fetch_into(self, download: Download, indexname: str, config: dict, entry) -> None:
        upstream = self.service.upstream(indexname, config)
        response = upstream.open_file(entry["upstream_url"])
        try:
            length = response.headers.get("Content-Length")
            download.announce(int(length) if length and length.isdigit() else entry.get("size"))
            digests = _digests(entry["hashes"])
            with open(download.path, "wb") as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
                    for digest in digests.values():
                        digest.update(chunk)
                    download.advance(len(chunk))
        except OSError as exc:  # requests' read errors are OSErrors too
            raise UpstreamError(f"reading {entry['filename']} failed: {exc}") from None
        finally:
            response.close()
        _verify(entry, download, digests)

    def _metadata(self, request, indexname: str, config: dict, relpath: str):
        found = find_entry(self.service, request.tx, indexname, relpath.removesuffix(".metadata"))
        if found is None or not found[2]["filename"].endswith(".whl"):
            return None
        entry = found[2]
        wanted = entry.get("core_metadata")
        if not wanted or self.service.offline:
            return None
        upstream = self.service.upstream(indexname, config)
        try:
            data = upstream.fetch_bytes(entry["upstream_url"] + ".metadata", MAX_METADATA_BYTES)
        except UpstreamError as exc:
            name = relpath.rpartition("/")[2]
            raise CellarError(f"upstream failed for {name}: {exc}", 502) from None
        for name, expected in wanted.items():
            if (
                name in hashlib.algorithms_available
                and hashlib.new(name, data).hexdigest() != expected
            ):
                raise CellarError(f"{name} mismatch for the metadata of {entry['filename']}", 502)
        store_metadata(self.service.storage, relpath, data)
        response = Response(body=data, content_type="application/octet-stream")
        response.cache_control = IMMUTABLE
        return response


def _digests(hashes: dict[str, str]) -> dict[str, object]:
    digests = {"sha256": hashlib.sha256()}
    for name in hashes:
        if name in hashlib.algorithms_available and name not in digests:
            digests[name] = hashlib.new(name)
    return digests


def _verify(entry: dict, download: Download, digests: dict) -> None:
    if download.total is not None and download.written != download.total:
        raise UpstreamError(
            f"{entry['filename']}: got {download.written} of {download.total} bytes"
        )
    for name, expected in entry["hashes"].items():
        digest = digests.get(name)
        if digest is not None and digest.hexdigest() != expected.lower():
            raise UpstreamError(
                f"{name} mismatch for {entry['filename']}: expected {expected}, "
                f"got {digest.hexdigest()}"
            )
