"""Upload forms: the quick parser gives what WebOb gives, and leaves unusual bodies to it."""

from __future__ import annotations

import os

import pytest
import requests
import requests_toolbelt
import urllib3
from distfiles import upload_fields
from distfiles import wheel
from webob import Request

from cheesecellar import formdata

BOUNDARY = "b0undary"
ALICE = ("alice", "alicepw")
DIST = wheel("formpkg", "1.0")


def request_for(body: bytes, content_type: str) -> Request:
    return Request.blank("/alice/dev/", method="POST", body=body, content_type=content_type)


def webob_fields(body: bytes, content_type: str) -> list:
    """What WebOb's own parser makes of the body, with file parts as (filename, bytes)."""
    return comparable(request_for(body, content_type).POST)


def comparable(fields) -> list:
    return [
        (name, (value.filename, value.file.read()) if hasattr(value, "file") else value)
        for name, value in fields.items()
    ]


def raw_form(*parts: bytes, preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    """A body from raw parts (headers, blank line, content) around ``BOUNDARY``."""
    middle = b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return preamble + middle + b"--" + BOUNDARY.encode() + b"--\r\n" + epilogue


def field(name: str, value: bytes) -> bytes:
    return f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value


def twine_body(**extra) -> tuple[bytes, str]:
    fields = [*upload_fields(DIST).items(), *extra.items()]
    fields.append(("content", (DIST.filename, DIST.content, "application/octet-stream")))
    encoder = requests_toolbelt.MultipartEncoder(fields)
    return encoder.to_string(), encoder.content_type


def requests_body() -> tuple[bytes, str]:
    files = {"content": (DIST.filename, DIST.content, "application/octet-stream")}
    prepared = requests.Request("POST", "http://x/", data=upload_fields(DIST), files=files)
    prepared = prepared.prepare()
    return prepared.body, prepared.headers["Content-Type"]


def urllib3_body() -> tuple[bytes, str]:
    fields = [*upload_fields(DIST).items(), ("content", (DIST.filename, DIST.content))]
    return urllib3.encode_multipart_formdata(fields, boundary=BOUNDARY)


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
PLAIN = {
    "twine": twine_body,
    "twine, repeated and multi-line fields": lambda: twine_body(
        classifiers="A :: B", requires_dist="x>1", description="one\r\ntwo\n\nthr\u00e9e"
    ),
    "requests": requests_body,
    "urllib3": urllib3_body,
    "empty value and file with CRLF and a near-boundary": lambda: (
        raw_form(
            field("summary", b""),
            b'Content-Disposition: form-data; name="content"; filename="f.whl"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
            b"\r\n--b0undar\r\n--b0undaryX",
        ),
        MULTIPART,
    ),
    "bytes that are not UTF-8 in a value": lambda: (
        raw_form(field("summary", b"\xff\xfe")),
        MULTIPART,
    ),
    "quoted boundary": lambda: (
        raw_form(field("a", b"1")),
        f'multipart/form-data; boundary="{BOUNDARY}"',
    ),
}


@pytest.mark.parametrize("case", list(PLAIN))
def test_plain_forms_parse_as_webob_parses_them(case):
    body, content_type = PLAIN[case]()
    request = request_for(body, content_type)
    assert formdata.parse_plain(request.environ, request.content_length)
    assert comparable(request.POST) == webob_fields(body, content_type)


def _header_part(header: bytes) -> bytes:
    return b'Content-Disposition: form-data; name="content"; filename="f.whl"\r\n' + header


UNUSUAL = {
    "preamble": lambda: (raw_form(field("a", b"1"), preamble=b"hello\r\n"), MULTIPART),
    "epilogue": lambda: (raw_form(field("a", b"1"), epilogue=b"bye"), MULTIPART),
    "no closing boundary": lambda: (raw_form(field("a", b"1"))[:-4], MULTIPART),
    "transfer encoding": lambda: (
        raw_form(_header_part(b"Content-Transfer-Encoding: base64\r\n\r\naGk=")),
        MULTIPART,
    ),
    "charset of a part": lambda: (
        raw_form(_header_part(b"Content-Type: text/plain; charset=latin-1\r\n\r\nx")),
        MULTIPART,
    ),
    "escaped quote in a filename": lambda: (
        raw_form(b'Content-Disposition: form-data; name="content"; filename="a\\"b"\r\n\r\nx'),
        MULTIPART,
    ),
    "empty filename": lambda: (
        raw_form(b'Content-Disposition: form-data; name="content"; filename=""\r\n\r\nx'),
        MULTIPART,
    ),
    "path in a filename": lambda: (
        raw_form(b'Content-Disposition: form-data; name="content"; filename="../x.whl"\r\n\r\nx'),
        MULTIPART,
    ),
    "encoded name": lambda: (
        raw_form(b"Content-Disposition: form-data; name*=utf-8''%C3%A9\r\n\r\nx"),
        MULTIPART,
    ),
    "repeated header": lambda: (
        raw_form(field("a", b"1").replace(b"\r\n\r\n", b"\r\nContent-Disposition: x\r\n\r\n")),
        MULTIPART,
    ),
    "another parameter": lambda: (raw_form(field("a", b"1")), MULTIPART + "; charset=utf-8"),
    "too large": lambda: (
        raw_form(_header_part(b"\r\n" + b"x" * (formdata.MAX_BODY + 1))),
        MULTIPART,
    ),
}


@pytest.mark.parametrize("case", list(UNUSUAL))
def test_unusual_forms_are_left_to_webob(case):
    body, content_type = UNUSUAL[case]()
    request = request_for(body, content_type)
    assert not formdata.parse_plain(request.environ, request.content_length)
    try:
        expected = webob_fields(body, content_type)
    except Exception as exc:  # WebOb refuses it: it must refuse it the same way after us
        with pytest.raises(type(exc)):
            request.POST  # noqa: B018
    else:
        assert comparable(request.POST) == expected


@pytest.fixture(scope="module")
def forms(server):
    with server.session() as session:
        session.put("/alice", json={"password": "alicepw"}).raise_for_status()
        session.login(*ALICE)
        session.put("/alice/dev", json={}).raise_for_status()
    return server


def post(server, body: bytes, content_type: str) -> requests.Response:
    headers = {"Content-Type": content_type}
    return requests.post(f"{server.url}/alice/dev/", data=body, headers=headers, auth=ALICE)


def version_json(server, name: str, version: str) -> dict:
    reply = requests.get(
        f"{server.url}/alice/dev/{name}/{version}", headers={"Accept": "application/json"}
    )
    return reply.json()["result"]


def test_twine_form_stores_file_and_metadata(forms):
    body, content_type = twine_body(classifiers="Topic :: One", keywords="a\r\nb \u00e9")
    reply = post(forms, body, content_type)
    assert reply.status_code == 200, reply.text
    verdata = version_json(forms, "formpkg", "1.0")
    assert verdata["classifiers"] == ["Topic :: One"]
    assert verdata["keywords"] == "a\r\nb \u00e9"
    [link] = verdata["+links"]
    assert requests.get(link["href"]).content == DIST.content


def test_an_upload_larger_than_the_quick_parser_takes_is_stored(forms):
    big = wheel("bigformpkg", "1.0", payload=os.urandom(formdata.MAX_BODY + 1000))
    fields = [*upload_fields(big).items(), ("content", (big.filename, big.content))]
    body, content_type = urllib3.encode_multipart_formdata(fields)
    assert len(body) > formdata.MAX_BODY
    reply = post(forms, body, content_type)
    assert reply.status_code == 200, reply.text
    [link] = version_json(forms, "bigformpkg", "1.0")["+links"]
    assert requests.get(link["href"]).content == big.content
