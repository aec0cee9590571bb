"""Bad uploads get a 4xx with a reason and change nothing: no serial, no stored file."""

from __future__ import annotations

import base64
import io
import os
import zipfile

import pytest
import requests
from distfiles import doczip
from distfiles import sdist
from distfiles import upload_fields
from distfiles import wheel

from cheesecellar.testing import start_live_cellar

AUTH = "Basic " + base64.b64encode(b"alice:alicepw").decode()
GOOD = sdist("goodpkg", "1.0")
GOOD_WHEEL = wheel("goodpkg", "1.0")
BOUNDARY = "cellar-test-boundary"


def multipart(fields: dict, filename: bytes | None, content: bytes) -> bytes:
    """A form built by hand, so file names reach the server byte for byte."""
    out = io.BytesIO()
    for key, value in fields.items():
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    if filename is not None:
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="content"; '.encode())
        out.write(b'filename="' + filename + b'"\r\n')
        out.write(b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue()


def form(dist=GOOD, filename: bytes | None = None, content: bytes | None = None, **fields):
    """A twine-like upload of ``dist`` with some parts changed: (body, content type)."""
    name = dist.filename.encode() if filename is None else filename
    body = multipart(
        upload_fields(dist, **fields), name, dist.content if content is None else content
    )
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def without_content(**fields):
    return multipart(
        upload_fields(GOOD, **fields), None, b""
    ), f"multipart/form-data; boundary={BOUNDARY}"


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    return buffer.getvalue()


NO_METADATA = wheel("goodpkg", "1.0", with_metadata=False)
OTHER_META = wheel("otherpkg", "1.0", filename=GOOD_WHEEL.filename)
VERSION_META = wheel("goodpkg", "2.0", filename=GOOD_WHEEL.filename)
NO_DIGEST = {"sha256_digest": None}
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"

# case -> (path, (body, content type))
CASES = {
    "garbage body": ("alice/dev/", (b"\x00\xffgarbage" * 10, "application/octet-stream")),
    "garbage multipart": ("alice/dev/", (b"--x\r\nnonsense\r\n", MULTIPART)),
    "truncated multipart": ("alice/dev/", (form()[0][:300], MULTIPART)),
    "urlencoded action only": (
        "alice/dev/",
        (b":action=file_upload", "application/x-www-form-urlencoded"),
    ),
    "no content part": ("alice/dev/", without_content()),
    "content is a plain field": ("alice/dev/", without_content(content="not a file")),
    "empty file": ("alice/dev/", form(content=b"")),
    "empty file name": ("alice/dev/", form(filename=b"")),
    "not an archive name": ("alice/dev/", form(filename=b"goodpkg-1.0.txt")),
    "no version in name": ("alice/dev/", form(filename=b"goodpkg.tar.gz")),
    "bad wheel name": ("alice/dev/", form(GOOD_WHEEL, filename=b"goodpkg.whl")),
    "name mismatch": ("alice/dev/", form(name="otherpkg")),
    "empty name": ("alice/dev/", form(name="")),
    "empty version": ("alice/dev/", form(version=" ")),
    "version mismatch": ("alice/dev/", form(version="2.0")),
    "invalid version": ("alice/dev/", form(sdist("goodpkg", "banana"))),
    "invalid form version": ("alice/dev/", form(version="1.0-foo!bar")),
    "dot dot slash": ("alice/dev/", form(filename=b"../goodpkg-1.0.tar.gz")),
    "deep dot dot": ("alice/dev/", form(filename=b"../../../../goodpkg-1.0.tar.gz")),
    "absolute path": ("alice/dev/", form(filename=b"/tmp/goodpkg-1.0.tar.gz")),
    "nul byte": ("alice/dev/", form(filename=b"goodpkg-1.0\x00.tar.gz")),
    "backslash": ("alice/dev/", form(filename=b"..\\goodpkg-1.0.tar.gz")),
    "dot file": ("alice/dev/", form(filename=b".goodpkg-1.0.tar.gz")),
    "wheel without METADATA": ("alice/dev/", form(NO_METADATA)),
    "wheel METADATA nested too deep": (
        "alice/dev/",
        form(
            GOOD_WHEEL,
            content=zip_of({"x/goodpkg-1.0.dist-info/METADATA": GOOD_WHEEL.metadata}),
            **NO_DIGEST,
        ),
    ),
    "wheel METADATA names another project": ("alice/dev/", form(OTHER_META, name="goodpkg")),
    "wheel METADATA names another version": ("alice/dev/", form(VERSION_META, version="1.0")),
    "corrupt wheel": ("alice/dev/", form(GOOD_WHEEL, content=b"PK\x03\x04 no zip", **NO_DIGEST)),
    "corrupt sdist": ("alice/dev/", form(content=b"\x1f\x8b\x08 not really gzip", **NO_DIGEST)),
    "wheel that is a tar": ("alice/dev/", form(GOOD_WHEEL, content=GOOD.content, **NO_DIGEST)),
    "zip sdist that is not a zip": (
        "alice/dev/",
        form(filename=b"goodpkg-1.0.zip", content=b"plain text", **NO_DIGEST),
    ),
    "sha256 mismatch": ("alice/dev/", form(sha256_digest="0" * 64)),
    "md5 mismatch": ("alice/dev/", form(md5_digest="0" * 32)),
    "unknown index": ("alice/nope/", form()),
    "unknown user": ("nobody/dev/", form()),
    "mirror index": ("root/pypi/", form()),
    "unknown action": ("alice/dev/", form(**{":action": "frobnicate"})),
    "register action": ("alice/dev/", form(**{":action": "register"})),
    "empty action": ("alice/dev/", form(**{":action": ""})),
    "submit without version": (
        "alice/dev/",
        without_content(**{":action": "submit", "version": None}),
    ),
    "submit bad version": (
        "alice/dev/",
        without_content(**{":action": "submit", "version": "x y"}),
    ),
    "doc upload not a zip": ("alice/dev/", form(**{":action": "doc_upload"}, content=b"text")),
    "doc upload without name": (
        "alice/dev/",
        form(
            **{":action": "doc_upload", "name": None, "version": None},
            filename=b"docs.zip",
            content=doczip(),
        ),
    ),
    "doc zip with a bad version": (
        "alice/dev/",
        form(
            **{":action": "doc_upload"}, version="not valid", filename=b"docs.zip", content=doczip()
        ),
    ),
    "non-volatile overwrite": (
        "alice/prod/",
        form(content=sdist("goodpkg", "1.0", summary="changed").content, sha256_digest=None),
    ),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """alice with ``alice/dev`` and a non-volatile ``alice/prod`` that holds goodpkg 1.0."""
    live = start_live_cellar(tmp_path_factory.mktemp("upload_bad_input"))
    with live.session() as session:
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
        session.login("alice", "alicepw")
        session.put("/alice/dev", json={}).raise_for_status()
        session.put("/alice/prod", json={"volatile": False}).raise_for_status()
    body, content_type = form()
    post(live, "alice/prod/", body, content_type).raise_for_status()
    yield live
    live.stop()


def post(server, path: str, body: bytes, content_type: str) -> requests.Response:
    headers = {"Authorization": AUTH, "Content-Type": content_type}
    return requests.post(f"{server.url}/{path}", data=body, headers=headers, timeout=30)


def stored_files(server) -> set[str]:
    server.storage.wait_for_files()  # committed files reach the tree after the reply
    root = server.serverdir / "+files"
    return {
        os.path.relpath(os.path.join(dirpath, name), root)
        for dirpath, _dirs, names in os.walk(root)
        for name in names
    }


def serial(server) -> str:
    return requests.get(server.url + "/+api").headers["X-Devpi-Serial"]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_upload_is_4xx_and_changes_nothing(server, case):
    path, (body, content_type) = CASES[case]
    serial_before, files_before = serial(server), stored_files(server)
    reply = post(server, path, body, content_type)
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.reason)
    assert reply.reason.strip()
    assert reply.text.strip()
    assert reply.headers["X-Devpi-Serial"] == serial_before
    assert serial(server) == serial_before
    assert stored_files(server) == files_before


def test_good_upload_does_change_things(server):
    """The same checks see a real upload, so the table above can fail."""
    serial_before, files_before = serial(server), stored_files(server)
    body, content_type = form(GOOD_WHEEL)
    reply = post(server, "alice/dev/", body, content_type)
    assert reply.status_code == 200, reply.reason
    assert int(serial(server)) == int(serial_before) + 1
    new = stored_files(server) - files_before
    assert {name.rsplit("/", 1)[1] for name in new} == {
        GOOD_WHEEL.filename,
        GOOD_WHEEL.filename + ".metadata",
    }


@pytest.mark.parametrize("size", [4096, 200_000])
def test_oversize_upload_is_413(make_cellar, size):
    live = make_cellar(max_request_body_size=2048)
    with live.session() as session:
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
        session.login("alice", "alicepw")
        session.put("/alice/dev", json={}).raise_for_status()
    files_before, serial_before = stored_files(live), serial(live)
    big = sdist("bigpkg", "1.0")
    body, content_type = form(big, content=os.urandom(size), sha256_digest=None)
    try:
        reply = post(live, "alice/dev/", body, content_type)
    except requests.ConnectionError:
        pytest.fail("the server dropped the connection instead of answering 413")
    assert reply.status_code == 413
    assert reply.reason
    assert stored_files(live) == files_before
    assert serial(live) == serial_before
