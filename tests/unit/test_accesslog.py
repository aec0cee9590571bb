"""The access log middleware: one escaped line per request, with status and bytes."""

from __future__ import annotations

import io
import re

import pytest

from cheesecellar.accesslog import AccessLogMiddleware
from cheesecellar.accesslog import escape

LINE = re.compile(
    r'^(?P<addr>\S+) - - \[[^\]]+\] "(?P<request>[^"\\]*(?:\\.[^"\\]*)*)" (?P<status>\S+) '
    r'(?P<sent>\d+) "(?P<referer>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<agent>[^"\\]*(?:\\.[^"\\]*)*)" '
    r"(?P<ms>\d+\.\d)ms\n$"
)


def environ(**extra) -> dict:
    base = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/alice/dev/+simple/x/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    return {**base, **extra}


def run(app, env) -> tuple[str, bytes]:
    stream = io.StringIO()
    middleware = AccessLogMiddleware(app, stream)
    body_iter = middleware(env, lambda status, headers, exc_info=None: None)
    body = b"".join(body_iter)
    body_iter.close()
    return stream.getvalue(), body


def body_app(status: str, chunks: list[bytes]):
    def app(env, start_response):
        start_response(status, [("Content-Type", "text/plain")])
        return chunks

    return app


def test_line_has_status_bytes_and_request():
    line, body = run(body_app("404 Not Found", [b"abc", b"de"]), environ(QUERY_STRING="a=1"))
    assert body == b"abcde"
    match = LINE.match(line)
    assert match, line
    assert match["request"] == "GET /alice/dev/+simple/x/?a=1 HTTP/1.1"
    assert (match["status"], match["sent"]) == ("404", "5")


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ('pip/24 "quoted"', 'pip/24 \\"quoted\\"'),
        ("evil\nforged line", "evil\\x0aforged line"),
        ("back\\slash", "back\\\\slash"),
        ("caf\xe9", "caf\\xe9"),
    ],
)
def test_fields_cannot_split_or_forge_lines(agent, expected):
    line, _ = run(body_app("200 OK", [b"x"]), environ(HTTP_USER_AGENT=agent))
    assert line.count("\n") == 1
    assert LINE.match(line)["agent"] == expected
    assert escape(agent) == expected


def test_failing_app_is_logged_as_500():
    def broken(env, start_response):
        raise RuntimeError("boom")

    stream = io.StringIO()
    with pytest.raises(RuntimeError):
        AccessLogMiddleware(broken, stream)(environ(), lambda *a: None)
    assert LINE.match(stream.getvalue())["status"] == "500"


def test_file_wrapper_responses_are_passed_through_untouched():
    class Wrapper:
        def __init__(self, fp, block_size):
            self.fp = fp

    def app(env, start_response):
        start_response("200 OK", [("Content-Length", "1234")])
        return env["wsgi.file_wrapper"](io.BytesIO(b"z" * 1234), 8192)

    stream = io.StringIO()
    env = environ(**{"wsgi.file_wrapper": Wrapper})
    result = AccessLogMiddleware(app, stream)(env, lambda *a: None)
    assert isinstance(result, Wrapper)
    assert LINE.match(stream.getvalue())["sent"] == "1234"
