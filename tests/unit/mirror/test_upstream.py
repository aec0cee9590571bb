"""The upstream client against real local HTTP servers with programmable faults."""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest

from cheesecellar_mirror.namelist import iter_names
from cheesecellar_mirror.upstream import SIMPLE_ACCEPT
from cheesecellar_mirror.upstream import Upstream
from cheesecellar_mirror.upstream import UpstreamError
from cheesecellar_mirror.upstream import mask_url
from cheesecellar_mirror.upstream import strip_credentials

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
SHA = "ab" * 32
SECRET = "s3cr3t-t0ken"


# --- a programmable upstream ----------------------------------------------------------------


def reply(status=200, body=b"", content_type="text/html", **headers):
    def action(handler):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    return action


def json_reply(data, **headers):
    return reply(200, json.dumps(data).encode(), JSON_TYPE, **headers)


def redirect(location, status=302):
    return reply(status, Location=location)


def reset(handler):
    """Abort the connection with a TCP reset."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()
    handler.close_connection = True


def truncated(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(b"<a href='x-1.tar.gz'>")
    handler.close_connection = True


def slow(seconds, then):
    def action(handler):
        time.sleep(seconds)
        then(handler)

    return action


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        fake = self.server.fake
        fake.log.append((self.path, dict(self.headers), self.client_address[1]))
        actions = fake.routes.get(self.path) or [reply(404)]
        action = actions.pop(0) if len(actions) > 1 else actions[0]
        action(self)

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # clients that time out or hang up are part of the tests


class FakeIndex:
    """A server on an ephemeral port; each path plays its actions in turn, the last forever."""

    def __init__(self, host="127.0.0.1"):
        self.routes: dict[str, list] = {}
        self.log: list[tuple[str, dict, int]] = []
        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self._server.fake = self
        self.url = f"http://{host}:{self._server.server_address[1]}"
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, daemon=True).start()

    def route(self, path, *actions):
        self.routes[path] = list(actions)

    def headers(self, path):
        return [headers for logged, headers, _ in self.log if logged == path]

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fake():
    server = FakeIndex()
    yield server
    server.close()


@pytest.fixture
def other():
    """A second upstream host: same machine, other name and port."""
    server = FakeIndex(host="localhost")
    yield server
    server.close()


def make_upstream(url, **options):
    options = {"timeout": 5.0, "retries": 2, "backoff": 0.01, **options}
    upstream = Upstream(url, **options)
    return upstream


@pytest.fixture
def upstream(fake):
    with make_upstream(fake.url + "/simple") as client:
        yield client


# --- project pages --------------------------------------------------------------------------


def test_json_page_with_validators(fake, upstream):
    files = [
        {
            "filename": "hello-1.0-py3-none-any.whl",
            "url": "../../packages/hello-1.0-py3-none-any.whl",
            "hashes": {"sha256": SHA},
            "yanked": "",
            "core-metadata": {"sha256": SHA},
            "size": 10,
            "upload-time": "2024-01-01T00:00:00Z",
        }
    ]
    page = {"meta": {"api-version": "1.1"}, "name": "Hello", "files": files, "versions": ["1.0"]}
    validators = {"ETag": '"v1"', "Last_Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}
    fake.route("/simple/hello/", json_reply(page, X_PyPI_Last_Serial="42", **validators))
    fetched = upstream.fetch_project("hello")
    assert fetched.status == "ok"
    result = fetched.page
    assert (result.name, result.versions, result.serial) == ("Hello", ("1.0",), 42)
    assert (result.etag, result.last_modified) == ('"v1"', "Mon, 01 Jan 2024 00:00:00 GMT")
    (file,) = result.files
    assert file.url == fake.url + "/packages/hello-1.0-py3-none-any.whl"
    assert (file.yanked, file.core_metadata, file.size) == (True, {"sha256": SHA}, 10)
    (headers,) = fake.headers("/simple/hello/")
    assert headers["Accept"] == SIMPLE_ACCEPT
    assert headers["User-Agent"].startswith("cheesecellar/")
    assert "If-None-Match" not in headers


def test_html_page_after_a_redirect_resolves_against_the_final_url(fake, upstream):
    body = b'<a href="hello-1.0.tar.gz#sha256=' + SHA.encode() + b'" data-yanked="old">x</a>'
    fake.route("/simple/Hello/", redirect("/other/hello/", 301))
    fake.route("/other/hello/", reply(200, body, "text/html; charset=utf-8"))
    page = upstream.fetch_project("Hello").page
    assert page.name == "Hello"
    assert page.files[0].url == fake.url + "/other/hello/hello-1.0.tar.gz"
    assert page.files[0].hashes == {"sha256": SHA}
    assert page.files[0].yanked == "old"


def test_conditional_request_gets_not_modified(fake, upstream):
    def conditional(handler):
        fresh = handler.headers.get("If-None-Match") == '"v1"'
        reply(304 if fresh else 200, ETag='"v1"')(handler)

    fake.route("/simple/hello/", conditional)
    since = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert upstream.fetch_project("hello", etag='"v1"', last_modified=since).status == (
        "not_modified"
    )
    (headers,) = fake.headers("/simple/hello/")
    assert (headers["If-None-Match"], headers["If-Modified-Since"]) == ('"v1"', since)
    assert upstream.fetch_project("hello", etag='"v0"').status == "ok"


@pytest.mark.parametrize("status", [404, 410])
def test_missing_project_is_not_found(fake, upstream, status):
    fake.route("/simple/nope/", reply(status))
    assert upstream.fetch_project("nope").status == "not_found"
    assert len(fake.log) == 1


def test_other_client_errors_are_not_retried(fake, upstream):
    fake.route("/simple/secret/", reply(403))
    with pytest.raises(UpstreamError) as info:
        upstream.fetch_project("secret")
    assert info.value.status == 403
    assert len(fake.log) == 1


def test_server_error_then_success_is_retried(fake, upstream):
    fake.route("/simple/a/", reply(500), reply(503), json_reply({"files": []}))
    assert upstream.fetch_project("a").status == "ok"
    assert len(fake.log) == 3


def test_persistent_server_error_is_an_outage(fake, upstream):
    fake.route("/simple/a/", reply(500))
    with pytest.raises(UpstreamError, match="HTTP 500") as info:
        upstream.fetch_project("a")
    assert info.value.status == 500
    assert len(fake.log) == 3  # the first attempt and two retries


def test_read_timeout_is_an_outage(fake):
    fake.route("/simple/a/", slow(1.0, json_reply({"files": []})))
    upstream = make_upstream(fake.url + "/simple/", timeout=0.2, retries=1)
    with upstream, pytest.raises(UpstreamError, match="timed out") as info:
        upstream.fetch_project("a")
    assert info.value.status is None
    assert len(fake.log) == 2


@pytest.mark.parametrize("fault", [reset, truncated], ids=["reset", "truncated"])
def test_broken_connection_is_retried(fake, upstream, fault):
    fake.route("/simple/a/", fault, json_reply({"files": []}))
    assert upstream.fetch_project("a").status == "ok"
    fake.route("/simple/b/", fault)
    with pytest.raises(UpstreamError):
        upstream.fetch_project("b")


def test_unreachable_upstream_is_an_outage():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    upstream = make_upstream(f"http://u:{SECRET}@127.0.0.1:{port}/simple/", retries=1)
    with upstream, pytest.raises(UpstreamError) as info:
        upstream.fetch_project("a")
    assert SECRET not in str(info.value)
    assert f"127.0.0.1:{port}/simple/a/" in str(info.value)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (JSON_TYPE, b"<html>oops</html>"),
        (JSON_TYPE, b"[1, 2]"),
        ("application/json", b'{"meta": {"api-version": "3.0"}, "files": []}'),
        ("application/vnd.pypi.simple.v2+json", b'{"files": []}'),
    ],
)
def test_garbage_body_is_refused_without_retrying(fake, upstream, content_type, body):
    fake.route("/simple/a/", reply(200, body, content_type))
    with pytest.raises(UpstreamError) as info:
        upstream.fetch_project("a")
    assert "/simple/a/" in str(info.value)
    assert len(fake.log) == 1


def test_connections_are_pooled(fake, upstream):
    fake.route("/simple/a/", json_reply({"files": []}))
    for _ in range(3):
        upstream.fetch_project("a")
    assert len({port for _, _, port in fake.log}) == 1


# --- credentials ----------------------------------------------------------------------------


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def index_with_credentials(fake):
    host = fake.url.removeprefix("http://")
    return make_upstream(f"http://alice:{SECRET}@{host}/simple/")


def test_credentials_go_to_the_index_host_only(fake, other):
    file_urls = [f"{other.url}/files/a-1.tar.gz", f"{fake.url}/files/a-1.tar.gz"]
    files = [{"filename": "a-1.tar.gz", "url": url} for url in file_urls]
    fake.route("/simple/a/", json_reply({"files": files[:1]}))
    fake.route("/files/a-1.tar.gz", reply(200, b"data"))
    other.route("/files/a-1.tar.gz", reply(200, b"data"))
    with index_with_credentials(fake) as upstream:
        page = upstream.fetch_project("a").page
        for url in file_urls:
            with upstream.open_file(url) as response:
                assert response.content == b"data"
    assert fake.headers("/simple/a/")[0]["Authorization"] == basic("alice", SECRET)
    assert fake.headers("/files/a-1.tar.gz")[0]["Authorization"] == basic("alice", SECRET)
    assert "Authorization" not in other.headers("/files/a-1.tar.gz")[0]
    assert page.files[0].url == file_urls[0]


def test_a_redirect_to_another_host_drops_the_credentials(fake, other):
    fake.route("/simple/a/", redirect(f"{other.url}/simple/a/"))
    other.route("/simple/a/", redirect(fake.url + "/simple/final/"))
    fake.route("/simple/final/", json_reply({"files": []}))
    with index_with_credentials(fake) as upstream:
        assert upstream.fetch_project("a").status == "ok"
    assert "Authorization" not in other.headers("/simple/a/")[0]
    assert fake.headers("/simple/final/")[0]["Authorization"] == basic("alice", SECRET)


def test_same_host_on_another_port_gets_no_credentials(fake):
    second = FakeIndex()  # 127.0.0.1 too, another port
    try:
        second.route("/f.whl", reply(200, b"x"))
        with index_with_credentials(fake) as upstream:
            upstream.open_file(second.url + "/f.whl").close()
        assert "Authorization" not in second.headers("/f.whl")[0]
    finally:
        second.close()


def test_explicit_auth_wins_over_embedded(fake):
    fake.route("/simple/a/", json_reply({"files": []}))
    host = fake.url.removeprefix("http://")
    url = f"http://alice:{SECRET}@{host}/simple"
    with make_upstream(url, auth=("bob", "pw")) as upstream:
        upstream.fetch_project("a")
    assert fake.headers("/simple/a/")[0]["Authorization"] == basic("bob", "pw")


def test_credentials_never_show(fake, caplog):
    fake.route("/simple/a/", reply(502))
    caplog.set_level(logging.DEBUG)
    with index_with_credentials(fake) as upstream:
        assert upstream.url == fake.url + "/simple/"
        assert upstream.display_url == fake.url.replace("//", "//alice:****@") + "/simple/"
        with pytest.raises(UpstreamError) as info:
            upstream.fetch_project("a")
        shown = [repr(upstream), str(info.value), repr(info.value), info.value.url, caplog.text]
    assert "GET" in caplog.text
    assert not [text for text in shown if SECRET in text]


def test_masking_and_stripping():
    assert mask_url("https://u:p%40ss@h:8443/simple/") == "https://u:****@h:8443/simple/"
    assert mask_url("https://token@h/simple/") == "https://****@h/simple/"
    assert mask_url("https://h/simple/") == "https://h/simple/"
    assert strip_credentials("https://u:p%40ss@h:8443/s/") == ("https://h:8443/s/", ("u", "p@ss"))
    assert strip_credentials("https://token@h/s/") == ("https://h/s/", ("token", ""))
    assert strip_credentials("https://h/s/") == ("https://h/s/", None)


# --- files ----------------------------------------------------------------------------------


def test_open_file_streams_and_asks_for_identity_encoding(fake, upstream):
    payload = bytes(range(256)) * 1000
    fake.route("/f/a.whl", reply(503), reply(200, payload, "application/octet-stream"))
    with upstream.open_file(fake.url + "/f/a.whl") as response:
        assert b"".join(response.iter_content(4096)) == payload
    assert fake.headers("/f/a.whl")[-1]["Accept-Encoding"] == "identity"
    assert len(fake.log) == 2


def test_open_file_failure_carries_the_status(fake, upstream):
    fake.route("/f/gone.whl", reply(404))
    with pytest.raises(UpstreamError) as info:
        upstream.open_file(fake.url + "/f/gone.whl")
    assert info.value.status == 404
    assert len(fake.log) == 1


def test_fetch_bytes_respects_the_limit(fake, upstream):
    fake.route("/f/a.whl.metadata", reply(200, b"Metadata-Version: 2.1\n" * 10))
    data = upstream.fetch_bytes(fake.url + "/f/a.whl.metadata", limit=1000)
    assert data == b"Metadata-Version: 2.1\n" * 10
    with pytest.raises(UpstreamError, match="larger than 100 bytes"):
        upstream.fetch_bytes(fake.url + "/f/a.whl.metadata", limit=100)


# --- the project list -----------------------------------------------------------------------

LIST_SIZE = 700_000


@pytest.fixture(scope="module")
def big_list():
    """700,000 projects plus 70,000 respellings of them, in PyPI's JSON and HTML forms."""
    names = [f"Project_{i}.Ext" for i in range(LIST_SIZE)]
    names += [f"PROJECT-{i}-ext" for i in range(0, LIST_SIZE, 10)]
    entries = ",".join(f'{{"_last-serial":{i},"name":"{name}"}}' for i, name in enumerate(names))
    json_body = f'{{"meta":{{"_last-serial":1,"api-version":"1.1"}},"projects":[{entries}]}}'
    links = "\n".join(f'<a href="/simple/{name}/">{name}</a>' for name in names)
    html_body = f"<!DOCTYPE html><html><body>\n{links}\n</body></html>"
    expected = "".join(sorted(f"project-{i}-ext\n" for i in range(LIST_SIZE)))
    return {JSON_TYPE: json_body.encode(), "text/html": html_body.encode(), "expected": expected}


# Runs in a child process, so that its peak resident memory belongs to the list fetch alone.
# Linux's /proc gives the resident size and its peak (ru_maxrss would carry the parent's).
MEASURE_LIST = """
import json, pathlib, sys
from cheesecellar_mirror.upstream import Upstream

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

upstream = Upstream(sys.argv[1], retries=0)
upstream.fetch_project("warm-up")
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as control:
    control.write("5")  # restart the peak from here
fetched = upstream.fetch_project_list(pathlib.Path(sys.argv[2]))
peak = status("VmHWM") - before
print(json.dumps({"count": fetched.count, "etag": fetched.etag, "peak": peak}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
@pytest.mark.parametrize("content_type", [JSON_TYPE, "text/html"])
def test_big_list_is_streamed_to_disk(fake, tmp_path, big_list, content_type):
    body = big_list[content_type]
    fake.route("/simple/", reply(200, body, content_type, ETag='"list1"'))
    dest = tmp_path / "names.txt"
    command = [sys.executable, "-c", MEASURE_LIST, fake.url + "/simple/", str(dest)]
    result = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
    print(f"\n{content_type}: {len(body) / 1e6:.1f} MB, peak RSS +{result['peak'] / 1e6:.1f} MB")
    assert (result["count"], result["etag"]) == (LIST_SIZE, '"list1"')
    assert dest.read_text() == big_list["expected"]
    assert result["peak"] < 100e6


def test_list_not_modified_and_garbage_keep_the_old_file(fake, upstream, tmp_path):
    dest = tmp_path / "names.txt"
    fake.route(
        "/simple/",
        reply(200, b'<a href="B/">B</a><a href="a/">a</a>', Last_Modified="yesterday"),
        reply(304),
        reply(200, b'{"projects": [{"name": "x"}', JSON_TYPE),
    )
    assert upstream.fetch_project_list(dest).last_modified == "yesterday"
    fetched = upstream.fetch_project_list(dest, last_modified="yesterday")
    assert (fetched.status, fetched.last_modified) == ("not_modified", "yesterday")
    assert fake.headers("/simple/")[1]["If-Modified-Since"] == "yesterday"
    with pytest.raises(UpstreamError, match="truncated"):
        upstream.fetch_project_list(dest)
    assert list(iter_names(dest)) == ["a", "b"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["names.txt"]
