"""Hosted packages for the hosting benchmarks, made through the HTTP API of either server.

User ``hoster`` owns ``hoster/prod`` (no bases) with the projects ``pkg-1``, ``pkg-100``
and ``pkg-2000`` (that many versions, one small wheel each) and the projects ``big-1mb``
and ``big-10mb`` (one wheel of about that size). ``hoster/l1`` inherits ``prod``,
``l2`` inherits ``l1``, ``l3`` inherits ``l2``.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from urllib.parse import urljoin

import requests
import urllib3
from tests.bench.wheels import build_wheel
from tests.bench.wheels import upload_form

USER = "hoster"
PASSWORD = "hoster-password"
PROD = f"{USER}/prod"
CHAIN = (f"{USER}/l1", f"{USER}/l2", f"{USER}/l3")
#: Project name -> number of versions.
PROJECTS = {"pkg-1": 1, "pkg-100": 100, "pkg-2000": 2000}
#: devpi-server re-reads every earlier version of a project when a file is uploaded (and
#: reads older values back through its changelog once its cache is full), so 2,000
#: uploads take it hours; its runs leave this project out unless asked to.
SLOW_FOR_DEVPI = "pkg-2000"
#: Project name -> size of the wheel's payload.
BIG_FILES = {"big-1mb": 1_000_000, "big-10mb": 10_000_000}
#: What pip sends when it asks for a project page.
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
)
JSON = {"Accept": "application/json", "Content-Type": "application/json"}


class SetupFailed(RuntimeError):
    """The server refused a request the setup needs."""


@dataclasses.dataclass(frozen=True)
class Hosted:
    """What the cases need to know about the data on one server."""

    base_url: str
    token: str
    #: Project name -> (path of its first file, size in bytes).
    files: dict[str, tuple[str, int]]

    @property
    def password_auth(self) -> tuple[str, str]:
        return (USER, PASSWORD)

    @property
    def token_auth(self) -> tuple[str, str]:
        return (USER, self.token)


def _check(reply: requests.Response, what: str, *expected: int) -> requests.Response:
    if reply.status_code not in expected:
        raise SetupFailed(f"{what}: HTTP {reply.status_code} {reply.text[:300]}")
    return reply


def create_user_and_login(session: requests.Session, base_url: str) -> str:
    """Create ``hoster`` as devpi-client does; return its login token."""
    reply = session.put(f"{base_url}/{USER}", json={"password": PASSWORD}, headers=JSON)
    _check(reply, f"create user {USER}", 201)
    reply = session.post(
        f"{base_url}/+login", json={"user": USER, "password": PASSWORD}, headers=JSON
    )
    return _check(reply, f"login {USER}", 200).json()["result"]["password"]


def devpi_auth(token: str) -> dict[str, str]:
    return {"X-Devpi-Auth": base64.b64encode(f"{USER}:{token}".encode()).decode()}


def create_index(session: requests.Session, base_url: str, token: str, name: str, bases) -> None:
    body = {"type": "stage", "bases": list(bases), "volatile": True}
    reply = session.put(f"{base_url}/{name}", json=body, headers={**JSON, **devpi_auth(token)})
    _check(reply, f"create index {name}", 200, 201)


def encoded_upload(project: str, version: str, payload: bytes = b"") -> tuple[bytes, str]:
    """A wheel upload as one multipart body, encoded once: ``(body, content_type)``."""
    filename, content = build_wheel(project, version, payload)
    data, files = upload_form(project, version, filename, content)
    fields = [*data.items(), ("content", files["content"])]
    return urllib3.encode_multipart_formdata(fields)


def post_upload(session: requests.Session, url: str, upload: tuple[bytes, str], auth):
    body, content_type = upload
    return session.post(url, data=body, headers={"Content-Type": content_type}, auth=auth)


def _upload_all(base_url: str, index: str, token: str, uploads: list) -> None:
    # One client: parallel uploads only make devpi's writers wait for each other.
    url = f"{base_url}/{index}/"
    with requests.Session() as session:
        for upload in uploads:
            reply = post_upload(session, url, upload, (USER, token))
            _check(reply, f"upload to {index}", 200)


def _first_file(session: requests.Session, base_url: str, project: str) -> str:
    page_url = f"{base_url}/{PROD}/+simple/{project}/"
    reply = _check(session.get(page_url, headers={"Accept": PIP_ACCEPT}), page_url, 200)
    url = urljoin(page_url, reply.json()["files"][0]["url"])
    return url.split("#", 1)[0][len(base_url) :]


def populate(base_url: str, projects: dict[str, int] = PROJECTS) -> Hosted:
    """Create the user, the indexes and ``projects``; return where things are."""
    with requests.Session() as session:
        token = create_user_and_login(session, base_url)
        create_index(session, base_url, token, PROD, [])
        previous = PROD
        for name in CHAIN:
            create_index(session, base_url, token, name, [previous])
            previous = name
        uploads = [
            encoded_upload(project, f"1.0.{number}")
            for project, count in projects.items()
            for number in range(count)
        ]
        uploads += [encoded_upload(p, "1.0", os.urandom(size)) for p, size in BIG_FILES.items()]
        _upload_all(base_url, PROD, token, uploads)
        files = {}
        for project, size in BIG_FILES.items():
            path = _first_file(session, base_url, project)
            length = len(_check(session.get(base_url + path), path, 200).content)
            files[project] = (path, length)
            if length < size:
                raise SetupFailed(f"{path}: {length} bytes, expected at least {size}")
    return Hosted(base_url, token, files)
