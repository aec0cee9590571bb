"""Serving stored files at ``+f``: headers, HEAD, ranges, caching, PEP 658 metadata."""

from __future__ import annotations

import email.utils
import hashlib
import socket
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import requests
from distfiles import sdist
from distfiles import upload
from distfiles import wheel

ALICE = ("alice", "alicepw")
# Large enough that a range is a real slice of it.
WHEEL = wheel("Served_Pkg", "1.0", payload=bytes(range(256)) * 64)
SDIST = sdist("Served_Pkg", "1.0")
PIP_ACCEPT = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def files(server) -> dict[str, str]:
    """The absolute URL of each uploaded file, by file name."""
    with server.session() as session:
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
        session.login(*ALICE)
        session.put("/alice/dev", json={}).raise_for_status()
        for dist in (WHEEL, SDIST):
            upload(f"{server.url}/alice/dev/", dist, ALICE).raise_for_status()
        links = session.get("/alice/dev/served-pkg/1.0").json()["result"]["+links"]
    return {link["href"].rsplit("/", 1)[1]: link["href"] for link in links}


def test_get_sends_content_and_caching_headers(files):
    reply = requests.get(files[WHEEL.filename])
    assert reply.status_code == 200
    assert reply.content == WHEEL.content
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.headers["Content-Length"] == str(WHEEL.size)
    assert reply.headers["ETag"] == f'"{WHEEL.sha256}"'
    assert email.utils.parsedate_to_datetime(reply.headers["Last-Modified"])
    cache_control = reply.headers["Cache-Control"]
    assert "immutable" in cache_control
    assert "max-age=" in cache_control
    sdist_reply = requests.get(files[SDIST.filename])
    assert sdist_reply.content == SDIST.content
    assert sdist_reply.headers["Content-Type"] == "application/x-tar"


def test_head_has_headers_without_body(files):
    reply = requests.head(files[WHEEL.filename])
    assert reply.status_code == 200
    assert reply.content == b""
    assert reply.headers["Content-Length"] == str(WHEEL.size)
    assert reply.headers["ETag"] == f'"{WHEEL.sha256}"'


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=100-199", 100, 200),
        ("bytes=-10", WHEEL.size - 10, WHEEL.size),
        ("bytes=1000-", 1000, WHEEL.size),
    ],
)
def test_range_requests(files, header, start, end):
    reply = requests.get(files[WHEEL.filename], headers={"Range": header})
    assert reply.status_code == 206
    assert reply.content == WHEEL.content[start:end]
    assert reply.headers["Content-Range"] == f"bytes {start}-{end - 1}/{WHEEL.size}"
    assert reply.headers["Content-Length"] == str(end - start)


def test_range_past_the_end_is_416(files):
    reply = requests.get(files[WHEEL.filename], headers={"Range": f"bytes={WHEEL.size + 10}-"})
    assert reply.status_code == 416


def test_if_none_match_gives_304(files):
    url = files[WHEEL.filename]
    etag = requests.get(url).headers["ETag"]
    reply = requests.get(url, headers={"If-None-Match": etag})
    assert reply.status_code == 304
    assert reply.content == b""
    assert requests.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_wheel_metadata_matches_the_page_hash(server, files):
    reply = requests.get(files[WHEEL.filename] + ".metadata")
    assert reply.status_code == 200
    assert reply.content == WHEEL.metadata
    page_url = f"{server.url}/alice/dev/+simple/served-pkg/"
    page = requests.get(page_url, headers={"Accept": PIP_ACCEPT}).json()
    (item,) = [f for f in page["files"] if f["filename"] == WHEEL.filename]
    assert item["core-metadata"] == {"sha256": hashlib.sha256(reply.content).hexdigest()}
    assert requests.get(urljoin(page_url, item["url"]) + ".metadata").content == WHEEL.metadata


def test_sdist_has_no_metadata_file(files):
    assert requests.get(files[SDIST.filename] + ".metadata").status_code == 404


def test_json_accept_gives_releasefilemeta(files):
    reply = requests.get(files[SDIST.filename], headers={"Accept": "application/json"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["type"] == "releasefilemeta"
    result = body["result"]
    assert result["hash_spec"] == f"sha256={SDIST.sha256}"
    assert result["hashes"] == {"sha256": SDIST.sha256}
    assert result["project"] == "served-pkg"
    assert result["version"] == "1.0"
    assert email.utils.parsedate_to_datetime(result["last_modified"])


def test_unknown_files_are_404(server, files):
    url = files[WHEEL.filename]
    assert requests.get(url.replace("Served_Pkg-1.0", "Served_Pkg-9.9")).status_code == 404
    assert requests.get(url.replace("/alice/dev/", "/alice/other/")).status_code == 404
    assert requests.get(f"{server.url}/alice/dev/+f/abc/def/nope.whl").status_code == 404
    assert requests.head(f"{server.url}/alice/dev/+f/abc/def/nope.whl").status_code == 404


def raw_get(server, path: str) -> tuple[int, bytes]:
    """Send ``path`` exactly as written; HTTP clients would normalise the dots."""
    host, port = urlsplit(server.url).netloc.split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


TRICKS = [
    "/alice/dev/+f/../../../../etc/passwd",
    "/alice/dev/+f/../+f/{rel}",
    "/alice/dev/+f/%2e%2e/%2e%2e/%2e%2e/cellar.sqlite",
    "/alice/dev/+f/%2e%2e%2f%2e%2e%2f%2e%2e%2fcellar.sqlite",
    "/alice/dev/+f/..%2f..%2f..%2f.secret",
    "/alice/dev/+f//etc/passwd",
    "/alice/dev/+f/{double}",
    "/alice/dev/+f/./{rel}",
    "/alice/dev/+f/%00",
    "/alice/dev/+f/.tmp",
    "/alice/dev/+f/..\\..\\..\\cellar.sqlite",
    "/alice/dev/%2Bf/%2e%2e/%2e%2e/+f/{rel}",
]


@pytest.mark.parametrize("trick", TRICKS)
def test_path_tricks_never_escape(server, files, trick):
    rel = files[WHEEL.filename].split("/+f/", 1)[1]
    path = trick.format(rel=rel, double=rel.replace("/", "//"))
    status, data = raw_get(server, path)
    assert status in (400, 404), data[:200]
    assert b"SQLite format" not in data
    assert b"root:" not in data


def test_raw_request_for_the_real_path_works(server, files):
    """The check above can fail: the same raw request finds the file by its real path."""
    rel = files[WHEEL.filename].split(server.url, 1)[1]
    status, data = raw_get(server, rel)
    assert status == 200
    assert data.endswith(WHEEL.content)
