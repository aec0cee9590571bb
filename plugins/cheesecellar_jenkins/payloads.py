"""What a trigger sends: Jenkins' form parameters, the signed webhook body, their requests."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import shlex
import socket
import time
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from cheesecellar import __version__
from cheesecellar_jenkins.detect import Upload
from cheesecellar_jenkins.ixconfig import PKGNAME
from cheesecellar_jenkins.ixconfig import split_credentials

USER_AGENT = f"cheesecellar/{__version__}"
EVENT = "upload"
#: The parameters of the Jenkins job, in the order the Jenkinsfile declares them.
JENKINS_PARAMETERS = (
    "CELLAR_PROJECT",
    "CELLAR_VERSION",
    "CELLAR_INDEX_URL",
    "CELLAR_TEST_COMMAND",
    "CELLAR_FILES",
)
JENKINS_ENDINGS = ("/build", "/buildWithParameters")
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """This server as a receiver should see it."""

    uuid: str
    url: str  # as clients reach it, without a trailing slash

    def index_url(self, index: str) -> str:
        return f"{self.url}/{index}"


def server_url(settings) -> str:
    """``--outside-url`` when set, else ``http://host:port`` (a wildcard host is replaced
    by this machine's name)."""
    if settings.outside_url:
        return settings.outside_url.rstrip("/")
    host = settings.host
    if host in _WILDCARD_HOSTS:
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


@dataclasses.dataclass(frozen=True)
class OutgoingRequest:
    """One POST: the URL without credentials, Basic auth from the URL, body and headers."""

    url: str
    auth: tuple[str, str] | None
    body: bytes
    headers: dict[str, str]


def test_command(upload: Upload) -> str:
    """The ``cellar test`` command line that tests the upload on its index (run it after
    ``cellar use`` of the server)."""
    spec = f"{upload.project}=={upload.version}"
    return shlex.join(["cellar", "test", "--index", upload.index, spec])


def jenkins_job_url(template: str, project: str) -> str:
    """The URL to POST to: ``{pkgname}`` replaced, ``/buildWithParameters`` appended
    unless the URL already ends with ``/build`` or ``/buildWithParameters``."""
    url = template.replace(PKGNAME, quote(project, safe=""))
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith(JENKINS_ENDINGS):
        path += "/buildWithParameters"
    return urlunsplit(parts._replace(path=path))


def jenkins_parameters(upload: Upload, server: ServerInfo) -> dict[str, str]:
    values = (
        upload.project,
        upload.version,
        server.index_url(upload.index),
        test_command(upload),
        " ".join(f.filename for f in upload.files),
    )
    return dict(zip(JENKINS_PARAMETERS, values, strict=True))


def jenkins_request(template: str, upload: Upload, server: ServerInfo) -> OutgoingRequest:
    url, auth = split_credentials(jenkins_job_url(template, upload.project))
    body = urlencode(jenkins_parameters(upload, server)).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT}
    return OutgoingRequest(url, auth, body, headers)


def iso_time(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def webhook_payload(upload: Upload, server: ServerInfo, delivery: str) -> dict[str, Any]:
    files = [
        {
            "filename": f.filename,
            "url": f"{server.url}/{f.relpath}",
            "sha256": f.sha256,
            "size": f.size,
            "type": f.type,
        }
        for f in upload.files
    ]
    return {
        "event": EVENT,
        "delivery": delivery,
        "serial": upload.serial,
        "server": {"uuid": server.uuid, "url": server.url},
        "index": upload.index,
        "index_url": server.index_url(upload.index),
        "project": upload.project,
        "version": upload.version,
        "files": files,
        "timestamp": iso_time(upload.timestamp),
    }


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Cellar-Signature-256`` value: ``sha256=`` and the hex HMAC of the body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def webhook_request(
    url: str, upload: Upload, server: ServerInfo, delivery: str, secret: bytes
) -> OutgoingRequest:
    body = json.dumps(webhook_payload(upload, server, delivery), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Cellar-Event": EVENT,
        "X-Cellar-Delivery": delivery,
        "X-Cellar-Signature-256": signature(secret, body),
    }
    plain, auth = split_credentials(url)
    return OutgoingRequest(plain, auth, body, headers)
