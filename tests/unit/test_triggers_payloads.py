"""What triggers send: Jenkins' URL and form, the test command, the signed webhook body."""

from __future__ import annotations

import hashlib
import hmac
import json
import shlex
import socket
from urllib.parse import parse_qs

import pytest

from cheesecellar.config import settings_for_tests
from cheesecellar_jenkins.detect import ReleaseFile
from cheesecellar_jenkins.detect import Upload
from cheesecellar_jenkins.payloads import JENKINS_PARAMETERS
from cheesecellar_jenkins.payloads import ServerInfo
from cheesecellar_jenkins.payloads import jenkins_job_url
from cheesecellar_jenkins.payloads import jenkins_request
from cheesecellar_jenkins.payloads import server_url
from cheesecellar_jenkins.payloads import test_command as make_test_command
from cheesecellar_jenkins.payloads import webhook_request

SERVER = ServerInfo("a1b2", "https://cellar.example/pkgs")
WHEEL = ReleaseFile("Hello_World-1.0-py3-none-any.whl", "alice/dev/+f/164/def5d4825cbf6/"
                    "Hello_World-1.0-py3-none-any.whl", "164def", 954, "releasefile")  # fmt: skip
SDIST = ReleaseFile(
    "Hello_World-1.0.tar.gz", "alice/dev/+f/a88/1cfa8e7e4cb6d/Hello_World-1.0.tar.gz", "a881",
    239, "releasefile",
)  # fmt: skip
UPLOAD = Upload("alice/dev", "Hello_World", "1.0", 7, 1_750_232_360.0, (WHEEL, SDIST))


@pytest.mark.parametrize(
    ("template", "posted"),
    [
        ("https://j.example/job/{pkgname}", "https://j.example/job/Hello_World/buildWithParameters"),
        ("https://j.example/job/{pkgname}/", "https://j.example/job/Hello_World/buildWithParameters"),
        ("https://j.example/job/all/build", "https://j.example/job/all/build"),
        ("https://j.example/job/all/buildWithParameters/", "https://j.example/job/all/buildWithParameters"),
        ("https://j.example/job/x?token=t", "https://j.example/job/x/buildWithParameters?token=t"),
        ("https://j.example/job/x/build?token=t", "https://j.example/job/x/build?token=t"),
    ],
)  # fmt: skip
def test_jenkins_job_url(template, posted):
    assert jenkins_job_url(template, "Hello_World") == posted


def test_test_command_names_the_index_and_the_exact_version():
    command = make_test_command(UPLOAD)
    assert command == "cellar test --index alice/dev Hello_World==1.0"
    assert shlex.split(command)[-1] == "Hello_World==1.0"


def test_jenkins_request_sends_the_parameters_as_a_form_with_basic_auth():
    request = jenkins_request("https://bot:tok@j.example/job/{pkgname}", UPLOAD, SERVER)
    assert request.url == "https://j.example/job/Hello_World/buildWithParameters"
    assert request.auth == ("bot", "tok")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = {k: v for k, [v] in parse_qs(request.body.decode(), strict_parsing=True).items()}
    assert list(form) == list(JENKINS_PARAMETERS)
    assert form == {
        "CELLAR_PROJECT": "Hello_World",
        "CELLAR_VERSION": "1.0",
        "CELLAR_INDEX_URL": "https://cellar.example/pkgs/alice/dev",
        "CELLAR_TEST_COMMAND": "cellar test --index alice/dev Hello_World==1.0",
        "CELLAR_FILES": "Hello_World-1.0-py3-none-any.whl Hello_World-1.0.tar.gz",
    }


def test_webhook_body_headers_and_signature():
    secret = b"k" * 32
    request = webhook_request("https://tok@hooks.example/in", UPLOAD, SERVER, "d-1", secret)
    assert request.url == "https://hooks.example/in"
    assert request.auth == ("tok", "")
    body = json.loads(request.body)
    assert body == {
        "event": "upload",
        "delivery": "d-1",
        "serial": 7,
        "server": {"uuid": "a1b2", "url": "https://cellar.example/pkgs"},
        "index": "alice/dev",
        "index_url": "https://cellar.example/pkgs/alice/dev",
        "project": "Hello_World",
        "version": "1.0",
        "files": [
            {
                "filename": f.filename,
                "url": f"https://cellar.example/pkgs/{f.relpath}",
                "sha256": f.sha256,
                "size": f.size,
                "type": "releasefile",
            }
            for f in (WHEEL, SDIST)
        ],
        "timestamp": "2025-06-18T07:39:20Z",
    }
    headers = request.headers
    assert headers["X-Cellar-Event"] == "upload"
    assert headers["X-Cellar-Delivery"] == "d-1"
    assert headers["User-Agent"].startswith("cheesecellar/")
    expected = "sha256=" + hmac.new(secret, request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Cellar-Signature-256"], expected)
    other = webhook_request("https://hooks.example/in", UPLOAD, SERVER, "d-1", b"o" * 32)
    assert other.headers["X-Cellar-Signature-256"] != expected


def test_server_url_prefers_the_outside_url(tmp_path):
    outside = settings_for_tests(tmp_path, outside_url="https://pkgs.example/cellar/")
    assert server_url(outside) == "https://pkgs.example/cellar"
    assert server_url(settings_for_tests(tmp_path, port=3141)) == "http://127.0.0.1:3141"
    assert server_url(settings_for_tests(tmp_path, host="::1", port=80)) == "http://[::1]:80"
    wildcard = settings_for_tests(tmp_path, host="0.0.0.0", port=3141)
    assert server_url(wildcard) == f"http://{socket.getfqdn()}:3141"
