"""The client's HTTP layer: the login header stays on the server, errors read well."""

from __future__ import annotations

import http.server
import threading

import pytest

from cheesecellar_client.http import Client
from cheesecellar_client.http import ClientError
from cheesecellar_client.state import ClientState


class Recorder(http.server.BaseHTTPRequestHandler):
    """Redirects ``/hop?to=URL`` to URL; answers anything else with the headers it got."""

    seen: list[dict[str, str]] = []

    def do_GET(self):
        if self.path.startswith("/hop?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.end_headers()
            return
        Recorder.seen.append(dict(self.headers))
        body = b'{"message": "nope here"}'
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def logged_in(url: str) -> Client:
    return Client(ClientState(url=url, index="a/b", username="alice", token="tok:en"))


def test_login_header_is_not_sent_to_another_host(port):
    client = logged_in(f"http://127.0.0.1:{port}")
    Recorder.seen.clear()
    client.request("GET", f"/hop?to=http://127.0.0.1:{port}/same")
    client.request("GET", f"/hop?to=http://localhost:{port}/other")
    same, other = Recorder.seen
    assert same["X-Devpi-Auth"] == "YWxpY2U6dG9rOmVu"  # base64 of alice:tok:en
    assert "X-Devpi-Auth" not in other


def test_error_carries_method_url_message_and_status(port):
    client = logged_in(f"http://127.0.0.1:{port}")
    with pytest.raises(ClientError) as caught:
        client.request("GET", "/missing")
    assert caught.value.status == 404
    assert caught.value.message.splitlines() == [
        f"GET http://127.0.0.1:{port}/missing",
        "404 nope here",
    ]


def test_unreachable_server_and_urls():
    client = logged_in("http://127.0.0.1:9")
    with pytest.raises(ClientError, match="cannot reach the server"):
        client.get_json("/")
    assert client.index_url() == "http://127.0.0.1:9/a/b/"
    assert client.simple_url("c/d") == "http://127.0.0.1:9/c/d/+simple/"
    assert client.url_for("https://elsewhere/x") == "https://elsewhere/x"
    assert client.require_index("dev") == "alice/dev"
    with pytest.raises(ClientError, match="no server selected"):
        Client(ClientState()).require_index("a/b")
