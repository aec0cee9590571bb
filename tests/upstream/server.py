"""A local stand-in for pypi.org and files.pythonhosted.org, with a request log and faults."""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name
from tests.upstream.catalog import Catalog
from tests.upstream.catalog import DistFile
from tests.upstream.catalog import seed_catalog
from tests.upstream.pages import Response
from tests.upstream.pages import answer
from tests.upstream.pages import plain

INDEX_HOST = "127.0.0.1"
FAULT_KINDS = ("delay", "status", "reset", "truncate", "corrupt", "slow")
BODY_FAULTS = ("truncate", "corrupt", "slow")
READ_SIZE = 256 * 1024


@dataclasses.dataclass
class RequestRecord:
    """One request as the upstream received it (``status`` is set once answered)."""

    method: str
    host: str
    path: str
    headers: dict[str, str]
    status: int | None = None
    content_type: str | None = None

    def header(self, name: str) -> str | None:
        """A request header, looked up without regard to case."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header the client sent, if any."""
        return self.header("Authorization")


@dataclasses.dataclass
class Fault:
    """A programmed misbehaviour for requests whose path or name matches ``target``."""

    target: str
    kind: str
    times: int | None = None
    seconds: float = 0.0
    status: int = 500
    fraction: float = 0.5
    chunk: int = 16 * 1024
    hits: int = 0

    def matches(self, path: str, name: str | None) -> bool:
        """Targets starting with ``/`` are path globs; others match a project or file name."""
        if self.target.startswith("/"):
            return fnmatch.fnmatchcase(path, self.target)
        return name is not None and fnmatch.fnmatchcase(name, self.target)


class UpstreamServer:
    """pypi.org-alike simple API plus a separate file host on one ephemeral port.

    :param catalog: what to serve (default: :func:`seed_catalog`).
    :param mode: ``"both"`` negotiates PEP 691 JSON or PEP 503 HTML; ``"json"`` or ``"html"``
        forces one.
    :param files_host: host name in file URLs; ``None`` serves files from the index host.
    :param metadata: serve PEP 658 ``.metadata`` files and advertise them.
    :param auth: ``(user, token)`` to require HTTP Basic auth on the index host.
    """

    index_host = INDEX_HOST

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        mode: str = "both",
        files_host: str | None = "localhost",
        metadata: bool = True,
        auth: tuple[str, str] | None = None,
        port: int = 0,
    ) -> None:
        self.catalog = catalog if catalog is not None else seed_catalog()
        self.mode = mode
        self.files_host = files_host or INDEX_HOST
        self.metadata = metadata
        self.auth = auth
        self.port = port
        self.requests: list[RequestRecord] = []
        self.faults: list[Fault] = []
        self.name_list = (0, 0)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> UpstreamServer:
        """Listen (on the same port as before, after a stop) and serve in a daemon thread."""
        self._stopping.clear()
        self._httpd = _HTTPServer((INDEX_HOST, self.port), _Handler)
        self._httpd.upstream = self
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection, as a crashed upstream would."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def restart(self) -> UpstreamServer:
        """Stop, then start again on the same port."""
        self.stop()
        return self.start()

    def __enter__(self) -> UpstreamServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- addresses -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://{INDEX_HOST}:{self.port}"

    @property
    def index_url(self) -> str:
        """``http://127.0.0.1:PORT/simple/``"""
        return f"{self.base_url}/simple/"

    @property
    def files_url(self) -> str:
        """``http://<files host>:PORT`` (``localhost`` unless in same-host mode)."""
        return f"http://{self.files_host}:{self.port}"

    def page_url(self, project: str) -> str:
        """URL of the simple page of ``project`` (normalised)."""
        return f"{self.index_url}{canonicalize_name(project)}/"

    def file_url(self, file: DistFile) -> str:
        """Absolute URL the pages give for ``file``."""
        return f"{self.files_url}{file.url_path}"

    # --- log, faults, name list ------------------------------------------------------------
    def count(self, path_prefix: str = "", *, host: str | None = None) -> int:
        """How many logged requests had a path starting with ``path_prefix`` (and ``host``)."""
        return len(self.matching(path_prefix, host=host))

    def matching(self, path_prefix: str = "", *, host: str | None = None) -> list[RequestRecord]:
        """Logged requests whose path starts with ``path_prefix``; ``host`` is the bare name."""
        return [
            record
            for record in list(self.requests)
            if record.path.startswith(path_prefix)
            and (host is None or record.host.rsplit(":", 1)[0] == host)
        ]

    def authorized(self) -> list[RequestRecord]:
        """Logged requests that carried an ``Authorization`` header."""
        return [record for record in list(self.requests) if record.authorization]

    def clear_log(self) -> None:
        """Forget the logged requests."""
        self.requests.clear()

    def fault(self, target: str, kind: str | int, *, times: int | None = None, **options) -> Fault:
        """Make matching requests misbehave; ``times=None`` keeps the fault until cleared.

        :param target: a path glob (``"/files/*"``) or a project / file name glob.
        :param kind: ``delay`` (``seconds``), ``status`` (``status``; or give 500, 503, 404
            as the kind), ``reset``, ``truncate`` (``fraction`` of the body), ``corrupt``
            (same length, other sha256), ``slow`` (``chunk`` bytes every ``seconds``).
        :returns: the fault; its ``hits`` counts the requests it spoiled.
        """
        if str(kind).isdigit():
            kind, options["status"] = "status", int(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {FAULT_KINDS}")
        fault = Fault(target, kind, times, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every programmed fault."""
        with self._lock:
            self.faults.clear()

    def set_name_list(self, n: int, seed: int = 0) -> None:
        """List ``n`` generated names after the catalog's own in ``/simple/`` (0: only those)."""
        self.name_list = (n, seed)

    def _take_fault(self, path: str, name: str | None) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times != 0 and fault.matches(path, name):
                    fault.hits += 1
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    upstream: UpstreamServer

    def handle_error(self, request, client_address) -> None:
        """Clients that hang up and faults that cut connections are expected; bugs are not."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add about 40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.upstream._lock:
            self.server.upstream._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.upstream._lock:
            self.server.upstream._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format, *args) -> None:
        """Quiet: the upstream keeps its own request log."""

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, head: bool) -> None:
        upstream = self.server.upstream
        path = urlsplit(self.path).path
        record = RequestRecord(self.command, self.headers.get("Host", ""), path, dict(self.headers))
        upstream.requests.append(record)
        fault = upstream._take_fault(path, _target_name(path))
        if fault is not None and fault.kind == "delay" and upstream._stopping.wait(fault.seconds):
            return self._abort(reset=True)
        if fault is not None and fault.kind == "reset":
            return self._abort(reset=True)
        if fault is not None and fault.kind == "status":
            response = plain(fault.status, "Injected fault")
        else:
            response = answer(upstream, path, self.headers)
        record.status, record.content_type = response.status, response.headers.get("Content-Type")
        body_fault = fault if fault is not None and fault.kind in BODY_FAULTS else None
        self._send(response, None if head else body_fault, head)

    def _send(self, response: Response, fault: Fault | None, head: bool) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        chunked = response.length is None and response.status != 304
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif response.status != 304:
            self.send_header("Content-Length", str(response.length))
        self.end_headers()
        if head or response.status == 304:
            return
        chunks = [response.body] if isinstance(response.body, bytes) else response.body
        try:
            self._write_body(chunks, chunked, fault, response.length)
        except OSError:
            self.close_connection = True

    def _write_body(self, chunks, chunked: bool, fault: Fault | None, length: int | None) -> None:
        truncate = fault is not None and fault.kind == "truncate"
        budget = int((length or READ_SIZE) * fault.fraction) if truncate else None
        first = True
        for chunk in chunks:
            if fault is not None and fault.kind == "corrupt" and first and chunk:
                chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
            first = False
            if budget is not None and len(chunk) >= budget:
                self._write(chunk[:budget], chunked)
                return self._abort(reset=False)
            if budget is not None:
                budget -= len(chunk)
            if fault is not None and fault.kind == "slow":
                self._trickle(chunk, chunked, fault)
            else:
                self._write(chunk, chunked)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _write(self, data: bytes, chunked: bool) -> None:
        if not data:
            return
        if chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.wfile.write(data)

    def _trickle(self, data: bytes, chunked: bool, fault: Fault) -> None:
        for offset in range(0, len(data), fault.chunk):
            self._write(data[offset : offset + fault.chunk], chunked)
            if self.server.upstream._stopping.wait(fault.seconds):
                raise ConnectionAbortedError("upstream stopped")

    def _abort(self, reset: bool) -> None:
        """End the connection mid-answer: a reset (RST) or a plain close after a partial body."""
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        else:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)


def _target_name(path: str) -> str | None:
    """What a name-glob fault is matched against: the project of a page, the file's name."""
    if path.startswith("/simple/") and path != "/simple/":
        return canonicalize_name(path.removeprefix("/simple/").strip("/"))
    if path.startswith("/files/"):
        return path.rsplit("/", 1)[-1]
    return None
