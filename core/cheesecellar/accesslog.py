"""The access log: one line per request, written by a WSGI middleware."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO

from cheesecellar.config import ConfigError

#: Control characters, quotes, backslashes and non-ASCII bytes are written as escapes,
#: so a request cannot forge or split log lines.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0x100))}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


def open_access_log(target: str) -> IO[str]:
    """Open the log once: ``-`` is standard error, anything else a file appended to.

    :raises ConfigError: if the file cannot be opened.
    """
    if target == "-":
        return sys.stderr
    try:
        return open(target, "a", buffering=1, encoding="ascii", errors="backslashreplace")
    except OSError as exc:
        raise ConfigError(f"cannot open access log {target}: {exc.strerror or exc}") from exc


def escape(value: str) -> str:
    """A WSGI (latin-1) string made safe for one quoted log field."""
    return value.translate(_ESCAPES)


def request_target(environ) -> str:
    """The path and query as the client sent them (waitress keeps ``REQUEST_URI``)."""
    target = environ.get("REQUEST_URI")
    if target:
        return target
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


class AccessLogMiddleware:
    """Log each request when its response is done: status, bytes sent and duration.

    A line reads like the combined log format with the duration appended::

        127.0.0.1 - - [05/Mar/2025:10:01:02 +0000] "GET /a/b/ HTTP/1.1" 200 512 "-" "pip" 3.1ms

    A ``wsgi.file_wrapper`` response is handed to the server untouched, so it can send the
    file efficiently; its size is taken from ``Content-Length`` and its line is written
    when the application returns it.
    """

    def __init__(self, app, stream: IO[str]) -> None:
        self.app = app
        self.stream = stream
        self._lock = threading.Lock()

    @property
    def registry(self):
        """The wrapped application's registry, so the server still reaches it."""
        return self.app.registry

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        seen: dict = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        try:
            app_iter = self.app(environ, recording_start_response)
        except BaseException:
            self.write(environ, "500", 0, started)
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if file_wrapper is not None and isinstance(app_iter, file_wrapper):
            self.write(environ, _status(seen), _content_length(seen), started)
            return app_iter
        return CountingIterable(
            app_iter, lambda sent: self.write(environ, _status(seen), sent, started)
        )

    def write(self, environ, status: str, sent: int, started: float) -> None:
        """Write the line of one request."""
        elapsed = (time.perf_counter() - started) * 1000
        line = format_line(environ, status, sent, elapsed)
        with self._lock:
            self.stream.write(line)


class CountingIterable:
    """Pass the body through, count its bytes, and report the count on ``close``."""

    def __init__(self, app_iter, done) -> None:
        self._app_iter = app_iter
        self._done = done
        self._sent = 0

    def __iter__(self):
        for chunk in self._app_iter:
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._app_iter, "close", None)
            if close is not None:
                close()
        finally:
            self._done(self._sent)


def format_line(environ, status: str, sent: int, elapsed_ms: float) -> str:
    """One combined-format line with the duration in milliseconds appended."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    request = " ".join(
        (
            environ.get("REQUEST_METHOD", "-"),
            request_target(environ),
            environ.get("SERVER_PROTOCOL", "-"),
        )
    )
    referer = environ.get("HTTP_REFERER") or "-"
    agent = environ.get("HTTP_USER_AGENT") or "-"
    return (
        f"{environ.get('REMOTE_ADDR') or '-'} - - [{stamp}] "
        f'"{escape(request)}" {status} {sent} "{escape(referer)}" "{escape(agent)}" '
        f"{elapsed_ms:.1f}ms\n"
    )


def _status(seen: dict) -> str:
    status = seen.get("status")
    return status.split(" ", 1)[0] if status else "-"


def _content_length(seen: dict) -> int:
    for name, value in seen.get("headers") or ():
        if name.lower() == "content-length" and value.isdigit():
            return int(value)
    return 0
