"""Tox results: upload to a release file's URL, validation, ACL, links, removal, push, hook."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re

import pytest
import requests
from distfiles import doczip
from distfiles import post_form
from distfiles import sdist
from distfiles import upload
from distfiles import wheel

from cheesecellar import hookimpl
from cheesecellar.config import ConfigError
from cheesecellar.errors import Forbidden

ALICE = ("alice", "alicepw")
BOB = ("bob", "bobpw")
JSON = {"Accept": "application/json", "Content-Type": "application/json"}
_numbers = itertools.count()

#: What ``tox --result-json`` (tox 4) writes, trimmed to the fields readers use.
TOX4_RESULT = {
    "reportversion": "1",
    "toxversion": "4.67.15",
    "platform": "linux",
    "host": "ci-7",
    "testenvs": {
        "py": {
            "python": {"implementation": "CPython", "version": "3.11.7 (main) [GCC 12.2.0]"},
            "installpkg": {"basename": "x.whl", "type": "file", "sha256": "ab" * 32},
            "installed_packages": ["pip==26.3"],
            "result": {"success": True, "exit_code": 0, "duration": 1.5, "skipped": False},
            "setup": [{"command": ["pip", "install", "x.whl"], "output": "ok\n", "retcode": 0}],
            "test": [{"command": ["python", "-c", "pass"], "output": "", "retcode": 0}],
        },
        ".pkg_external_sdist_meta": {},
    },
}
#: tox 3 wrote return codes as strings.
TOX3_RESULT = {
    "reportversion": "1",
    "toxversion": "3.28.0",
    "platform": "linux",
    "host": "old-ci",
    "installpkg": {"basename": "x.tar.gz", "md5": "0" * 32, "sha256": "1" * 64},
    "testenvs": {"py38": {"test": [{"command": ["pytest"], "output": "", "retcode": "1"}]}},
}


def encoded(result: dict) -> bytes:
    return json.dumps(result, indent=2).encode()


@pytest.fixture(scope="module")
def site(server):
    """alice and bob; alice/dev (anyone may post results) and alice/strict (only bob)."""
    with server.session() as session:
        for user, password in (ALICE, BOB):
            session.put(f"/{user}", json={"password": password}).raise_for_status()
        session.login(*ALICE)
        session.put("/alice/dev", json={}).raise_for_status()
        session.put("/alice/strict", json={"acl_toxresult_upload": "bob"}).raise_for_status()
    return server


def release(live, index: str = "alice/dev", project: str | None = None) -> dict[str, str]:
    """Upload a wheel and an sdist of a new project; return their URLs by kind."""
    project = project or f"tested{next(_numbers)}"
    urls = {}
    for dist in (wheel(project, "1.0"), sdist(project, "1.0")):
        upload(f"{live.url}/{index}/", dist, ALICE).raise_for_status()
        urls[dist.filetype] = f"{live.url}/{index}/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}"
        urls[dist.filetype] += f"/{dist.filename}"
    urls["project"] = project
    return urls


def post(url: str, body: bytes = encoded(TOX4_RESULT), auth=None, **kwargs):
    return requests.post(url, data=body, headers=JSON, auth=auth, timeout=30, **kwargs)


def verdata(live, project: str, index: str = "alice/dev") -> dict:
    reply = requests.get(f"{live.url}/{index}/{project}/1.0", headers=JSON, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()["result"]


def tox_links(live, project: str, index: str = "alice/dev") -> list[dict]:
    return [link for link in verdata(live, project, index)["+links"] if link["rel"] == "toxresult"]


def serial(live) -> int:
    return int(requests.get(f"{live.url}/+api", timeout=30).headers["X-Devpi-Serial"])


# --- upload and links -----------------------------------------------------------------


def test_result_is_stored_next_to_its_release_file(site):
    urls = release(site)
    body = encoded(TOX4_RESULT)
    reply = post(urls["bdist_wheel"], body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["type"] == "toxresultpath"
    relpath, _, digest = reply.json()["result"].partition("#sha256=")
    assert digest == hashlib.sha256(body).hexdigest()
    wheel_relpath = urls["bdist_wheel"].removeprefix(site.url + "/")
    assert re.fullmatch(re.escape(wheel_relpath) + r"\.toxresult-\d{14}-0", relpath)
    assert requests.get(f"{site.url}/{relpath}", timeout=30).content == body


def test_result_is_a_toxresult_link_for_its_file(site):
    urls = release(site)
    assert post(urls["sdist"]).status_code == 200
    (link,) = tox_links(site, urls["project"])
    assert link["for_href"] == urls["sdist"]
    assert link["href"].startswith(urls["sdist"] + ".toxresult-")
    assert link["hashes"]["sha256"] == hashlib.sha256(encoded(TOX4_RESULT)).hexdigest()
    assert link["log"][0]["what"] == "upload"
    assert link["log"][0]["who"] is None, "anonymous may post by default"
    assert link["upload_time"]
    project = requests.get(f"{site.url}/alice/dev/{urls['project']}", headers=JSON, timeout=30)
    assert link in project.json()["result"]["1.0"]["+links"]


def test_results_are_numbered_per_file_and_record_who(site):
    urls = release(site)
    for body in (encoded(TOX4_RESULT), encoded(TOX3_RESULT)):
        assert post(urls["bdist_wheel"], body, auth=BOB).status_code == 200
    assert post(urls["sdist"]).status_code == 200
    links = tox_links(site, urls["project"])
    numbers = [link["href"].rsplit("-", 1)[1] for link in links]
    assert numbers == ["0", "1", "0"]
    assert [link["for_href"] for link in links] == [urls["bdist_wheel"]] * 2 + [urls["sdist"]]
    assert [link["log"][0]["who"] for link in links] == ["bob", "bob", None]
    fetched = [requests.get(link["href"], timeout=30).json() for link in links]
    assert fetched == [TOX4_RESULT, TOX3_RESULT, TOX4_RESULT]


def test_simple_pages_list_release_files_only(site):
    urls = release(site)
    assert post(urls["bdist_wheel"]).status_code == 200
    page = f"{site.url}/alice/dev/+simple/{urls['project']}/"
    pep691 = requests.get(page, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert [f["filename"] for f in pep691.json()["files"]] == [
        urls["bdist_wheel"].rsplit("/", 1)[1],
        urls["sdist"].rsplit("/", 1)[1],
    ]
    assert "toxresult" not in requests.get(page, timeout=30).text


def test_json_accept_on_a_result_gives_its_entry(site):
    urls = release(site)
    assert post(urls["sdist"]).status_code == 200
    (link,) = tox_links(site, urls["project"])
    meta = requests.get(link["href"], headers=JSON, timeout=30).json()
    assert meta["type"] == "releasefilemeta"
    assert meta["result"]["hashes"] == link["hashes"]
    assert meta["result"]["project"] == urls["project"]


# --- refusals -------------------------------------------------------------------------


def test_acl_decides_who_may_post(site):
    urls = release(site, index="alice/strict")
    before = serial(site)
    for auth in (None, ALICE):
        reply = post(urls["sdist"], auth=auth)
        assert reply.status_code == 403
        assert "--no-upload" in reply.json()["message"]
    assert serial(site) == before
    assert post(urls["sdist"], auth=BOB).status_code == 200
    assert len(tox_links(site, urls["project"], "alice/strict")) == 1


def test_acl_accepts_groups_of_principals(site):
    with site.session() as session:
        session.login(*ALICE)
        reply = session.put("/alice/members", json={"acl_toxresult_upload": ":authenticated:"})
        assert reply.json()["result"]["acl_toxresult_upload"] == [":AUTHENTICATED:"]
    urls = release(site, index="alice/members")
    assert post(urls["sdist"]).status_code == 403
    assert post(urls["sdist"], auth=BOB).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "alice/dev/+f/abc/def0123456789/nothing-1.0.tar.gz",
        "alice/nope/+f/abc/def0123456789/nothing-1.0.tar.gz",
        "root/pypi/+f/abc/def0123456789/requests-2.0.tar.gz",
    ],
)
def test_unknown_files_are_404(site, path):
    reply = post(f"{site.url}/{path}")
    assert reply.status_code == 404
    assert "message" in reply.json()


def test_only_release_files_take_results(site):
    urls = release(site)
    fields = {":action": "doc_upload", "name": urls["project"], "version": "1.0"}
    files = {"content": (f"{urls['project']}-1.0.doc.zip", doczip())}
    assert post_form(f"{site.url}/alice/dev/", fields, ALICE, files).status_code == 200
    docs = [link for link in verdata(site, urls["project"])["+links"] if link["rel"] == "doczip"]
    assert post(urls["sdist"]).status_code == 200
    (result,) = tox_links(site, urls["project"])
    for href in (docs[0]["href"], result["href"], urls["sdist"] + ".metadata"):
        reply = post(href)
        assert reply.status_code == 404
        assert reply.json()["message"].startswith("no release file found at alice/dev/+f/")


def _without_testenvs():
    broken = copy.deepcopy(TOX4_RESULT)
    del broken["testenvs"]
    return broken


def _with_env(env):
    return {**TOX4_RESULT, "testenvs": {"py": env}}


INVALID = {
    "not json": (b"tests passed", "not valid JSON"),
    "not utf-8": ('{"host": "\u00e9"}'.encode("latin-1"), "not UTF-8"),
    "empty": (b"", "not valid JSON"),
    "array": (b"[1, 2]", "expected a JSON object, got a list"),
    "nan": (encoded(TOX4_RESULT).replace(b'"1"', b"NaN"), "NaN is not a JSON number"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    "no testenvs": (encoded(_without_testenvs()), "'testenvs' is missing"),
    "no host": (encoded({"platform": "x", "testenvs": {}}), "'host' is missing"),
    "env not object": (encoded(_with_env([])), "'testenvs.py' must be an object, got a list"),
    "test not list": (encoded(_with_env({"test": "ok"})), "'testenvs.py.test' must be a list"),
    "no retcode": (
        encoded(_with_env({"test": [{"command": ["x"]}]})),
        "'testenvs.py.test[0].retcode' is missing",
    ),
    "bool retcode": (
        encoded(_with_env({"setup": [{"retcode": True}]})),
        "'testenvs.py.setup[0].retcode' must be an integer, a string or null",
    ),
    "command string": (
        encoded(_with_env({"test": [{"retcode": 0, "command": "pytest -x"}]})),
        "'testenvs.py.test[0].command' must be a list of strings",
    ),
    "python version": (
        encoded(_with_env({"python": {"version": 3.11}})),
        "'testenvs.py.python.version' must be a string, got a number",
    ),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_invalid_results_are_400_and_change_nothing(site, case):
    urls = release(site)
    body, reason = INVALID[case]
    before = serial(site)
    reply = post(urls["sdist"], body)
    assert reply.status_code == 400, reply.text
    assert reason in reply.json()["message"]
    assert serial(site) == before
    assert tox_links(site, urls["project"]) == []


def test_many_problems_are_summarised(site):
    urls = release(site)
    envs = {f"env{n}": {"test": [{}]} for n in range(8)}
    reply = post(urls["sdist"], encoded({"host": "h", "platform": "p", "testenvs": envs}))
    assert reply.status_code == 400
    assert reply.json()["message"].endswith("(and 3 more)")


# --- size bound -----------------------------------------------------------------------


def padded(size: int) -> bytes:
    body = encoded(TOX4_RESULT)
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_results_over_the_size_bound_are_refused(make_cellar):
    live = make_cellar(extra={"toxresult_max_size": 4000})
    with live.session() as session:
        session.put("/alice", json={"password": ALICE[1]}).raise_for_status()
        session.login(*ALICE)
        session.put("/alice/dev", json={}).raise_for_status()
    urls = release(live)
    reply = post(urls["sdist"], padded(4001))
    assert reply.status_code == 400
    assert reply.json()["message"] == (
        "tox result too large: 4001 bytes, more than the 4000 bytes this server accepts"
    )
    chunked = post(urls["sdist"], iter([padded(4001)[:3000], padded(4001)[3000:]]))
    assert chunked.status_code == 400
    assert "too large" in chunked.json()["message"]
    assert tox_links(live, urls["project"]) == []
    assert post(urls["sdist"], padded(4000)).status_code == 200


def test_the_size_bound_must_be_positive(make_cellar):
    with pytest.raises(ConfigError, match="--toxresult-max-size"):
        make_cellar(extra={"toxresult_max_size": 0})


# --- removal, overwrite, push ---------------------------------------------------------


def test_removing_a_release_file_removes_its_results(site):
    urls = release(site)
    assert post(urls["sdist"]).status_code == 200
    assert post(urls["bdist_wheel"]).status_code == 200
    sdist_result, wheel_result = (link["href"] for link in tox_links(site, urls["project"]))
    reply = requests.delete(urls["sdist"], auth=ALICE, headers=JSON, timeout=30)
    assert reply.status_code == 200, reply.text
    assert [link["href"] for link in tox_links(site, urls["project"])] == [wheel_result]
    assert requests.get(sdist_result, timeout=30).status_code == 404
    assert requests.get(wheel_result, timeout=30).status_code == 200
    reply = requests.delete(wheel_result, auth=ALICE, headers=JSON, timeout=30)
    assert reply.status_code == 200, reply.text
    assert tox_links(site, urls["project"]) == []
    assert requests.get(urls["bdist_wheel"], timeout=30).status_code == 200


def test_overwriting_a_release_file_drops_the_old_results(site):
    urls = release(site)
    assert post(urls["bdist_wheel"]).status_code == 200
    changed = wheel(urls["project"], "1.0", payload=b"VALUE = 2\n")
    upload(f"{site.url}/alice/dev/", changed, ALICE).raise_for_status()
    assert tox_links(site, urls["project"]) == []
    assert post(urls["bdist_wheel"]).status_code == 404, "the old file is gone"


def test_push_carries_results_along(site):
    urls = release(site)
    assert post(urls["bdist_wheel"], auth=BOB).status_code == 200
    with site.session() as session:
        session.login(*ALICE)
        session.put("/alice/release", json={"acl_toxresult_upload": ""}).raise_for_status()
        body = {"name": urls["project"], "version": "1.0", "targetindex": "alice/release"}
        reply = session.request("PUSH", "/alice/dev", json=body)
    assert reply.status_code == 200, reply.text
    stored = [item for item in reply.json()["result"] if item[1] == "store_toxresult"]
    (source,) = tox_links(site, urls["project"])
    (pushed,) = tox_links(site, urls["project"], "alice/release")
    moved = source["href"].replace("/alice/dev/", "/alice/release/")
    assert stored == [[200, "store_toxresult", moved.removeprefix(site.url + "/")]]
    assert pushed["href"] == moved
    assert pushed["for_href"] == urls["bdist_wheel"].replace("/alice/dev/", "/alice/release/")
    assert [entry["what"] for entry in pushed["log"]] == ["upload", "push"]
    assert requests.get(pushed["href"], timeout=30).json() == TOX4_RESULT


# --- the cellar_on_toxresult_store hook -----------------------------------------------


class Gatekeeper:
    """Refuses results from the host ``untrusted`` and skips those from ``noisy``."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    @hookimpl
    def cellar_on_toxresult_store(self, request, toxresult, relpath):
        self.asked.append((toxresult["host"], relpath))
        if toxresult["host"] == "untrusted":
            raise Forbidden("results from untrusted hosts are not kept")
        if toxresult["host"] == "noisy":
            return "thanks; results from noisy are not kept"
        return None


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    from cheesecellar.testing import start_live_cellar

    gatekeeper = Gatekeeper()
    live = start_live_cellar(tmp_path_factory.mktemp("gated"), plugins=[gatekeeper])
    with live.session() as session:
        session.put("/alice", json={"password": ALICE[1]}).raise_for_status()
        session.login(*ALICE)
        session.put("/alice/dev", json={}).raise_for_status()
    yield live, gatekeeper
    live.stop()


@pytest.mark.parametrize(
    ("host", "status", "stored"), [("untrusted", 403, 0), ("noisy", 200, 0), ("ci-7", 200, 1)]
)
def test_hook_refuses_skips_or_lets_store(gated, host, status, stored):
    live, gatekeeper = gated
    urls = release(live)
    before = serial(live)
    reply = post(urls["sdist"], encoded({**TOX4_RESULT, "host": host}))
    assert reply.status_code == status, reply.text
    assert gatekeeper.asked[-1] == (host, urls["sdist"].removeprefix(live.url + "/"))
    assert len(tox_links(live, urls["project"])) == stored
    if host == "untrusted":
        assert reply.json() == {"message": "results from untrusted hosts are not kept"}
    if host == "noisy":
        assert reply.json() == {"message": "thanks; results from noisy are not kept"}
    if not stored:
        assert serial(live) == before


def test_hook_is_not_asked_about_invalid_or_forbidden_results(gated):
    live, gatekeeper = gated
    urls = release(live)
    asked = len(gatekeeper.asked)
    assert post(urls["sdist"], b"{}").status_code == 400
    assert post(urls["sdist"] + "x").status_code == 404
    assert len(gatekeeper.asked) == asked
