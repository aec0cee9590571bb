"""Mirror names found by name from the stored list, and ``pip search`` (XML-RPC)."""

from __future__ import annotations

import xmlrpc.client

import pytest
import requests
from mirrorkit import start_root_pypi
from test_search import hits
from test_search import new_index
from test_search import release
from test_search import search
from test_search import wait_indexed
from tests.upstream.fixtures import pip_env
from tests.upstream.fixtures import run_pip

#: A large generated upstream list: a search scans it from the stored file.
LISTED = 300_000


def list_requests(upstream) -> int:
    return sum(1 for record in list(upstream.requests) if record.path == "/simple/")


def store_the_list(live) -> None:
    """Ask the mirror for its project list once, so that it fetches and stores it."""
    reply = requests.get(
        f"{live.url}/root/pypi/+simple/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        timeout=300,
    )
    assert reply.status_code == 200


@pytest.fixture
def listed(make_cellar, make_upstream):
    upstream = make_upstream()
    upstream.set_name_list(LISTED)
    live = start_root_pypi(make_cellar, upstream)
    return live, upstream


def test_without_a_stored_list_nothing_is_asked_of_upstream(listed):
    live, upstream = listed
    before = len(list(upstream.requests))
    assert [hit for hit in hits(live, "requests") if hit["kind"] == "mirror"] == []
    assert len(list(upstream.requests)) == before, "a search never contacts upstream"


def test_mirror_names_exact_first_then_prefix_and_substring(listed):
    live, upstream = listed
    store_the_list(live)
    asked = len(list(upstream.requests))
    found = hits(live, "requests")
    assert found[0] == {
        "kind": "mirror",
        "user": "root",
        "index": "pypi",
        "project": "requests",
        "version": None,
        "path": "/root/pypi/requests",
        "title": "requests",
        "summary": "exact name match on mirror root/pypi",
        "score": 0.0,
        "fragments": [],
    }
    flask = hits(live, "flask", per_page=100)
    assert 0 < len(flask) <= 20
    assert all("flask" in hit["project"] and hit["kind"] == "mirror" for hit in flask)
    assert len(list(upstream.requests)) == asked, "searches never contact upstream"
    assert hits(live, "zzqqxxnothing") == []


def test_a_private_exact_name_comes_before_the_mirror_one(listed):
    live, _upstream = listed
    store_the_list(live)
    index, auth = new_index(live, bases=["root/pypi"])
    release(live, index, auth, "requests", summary="our own requests fork")
    release(live, index, auth, "requests-extra", summary="more")
    wait_indexed(live)
    found = hits(live, "requests", index=index)
    kinds = [(hit["kind"], hit["project"]) for hit in found[:3]]
    assert kinds == [("project", "requests"), ("mirror", "requests"), ("project", "requests-extra")]


def test_mirror_names_follow_a_new_list(listed):
    live, upstream = listed
    store_the_list(live)
    assert hits(live, "idna")[0]["project"] == "idna"
    upstream.catalog.add("brandnewthing", "1.0")
    with live.session() as admin:
        admin.login("root", "")
        reply = admin.patch("/root/pypi", json=["mirror_cache_expiry=0"])
        assert reply.status_code == 200, reply.text
    store_the_list(live)
    assert hits(live, "brandnewthing")[0]["path"] == "/root/pypi/brandnewthing"


def test_pip_search_through_xmlrpc(listed, tmp_path):
    live, _upstream = listed
    store_the_list(live)
    index, auth = new_index(live, bases=["root/pypi"])
    release(live, index, auth, "idna-helper", "2.1", summary="helps with idna")
    wait_indexed(live)
    result = run_pip(["search", "-i", f"{live.url}/{index}/", "idna"], pip_env(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("idna-helper (2.1)") and "helps with idna" in line for line in lines)
    assert any(line.startswith("idna (") for line in lines)
    root = run_pip(["search", "-i", f"{live.url}/+search", "idna-helper"], pip_env(tmp_path))
    assert root.returncode == 0, root.stderr
    assert "idna-helper (2.1)" in root.stdout


def test_xmlrpc_answers_faults_for_bad_calls(listed):
    live, _upstream = listed
    index, _auth = new_index(live)
    url = f"{live.url}/{index}/"
    headers = {"Content-Type": "text/xml"}
    for body in (b"<not xml", b"", b"<?xml version='1.0'?><methodCall></methodCall>"):
        reply = requests.post(url, data=body, headers=headers, timeout=30)
        assert reply.status_code == 200
        with pytest.raises(xmlrpc.client.Fault):
            xmlrpc.client.loads(reply.content)
    wrong = xmlrpc.client.dumps(({"name": "notalist"}, "xor"), "search").encode()
    fault = requests.post(url, data=wrong, headers=headers, timeout=30)
    with pytest.raises(xmlrpc.client.Fault, match="operator"):
        xmlrpc.client.loads(fault.content)
    other = xmlrpc.client.dumps((), "list_packages").encode()
    with pytest.raises(xmlrpc.client.Fault, match="unknown XML-RPC method"):
        xmlrpc.client.loads(requests.post(url, data=other, headers=headers, timeout=30).content)
    big = b"<x>" + b"a" * 70_000 + b"</x>"
    with pytest.raises(xmlrpc.client.Fault, match="larger than"):
        xmlrpc.client.loads(requests.post(url, data=big, headers=headers, timeout=30).content)
    valid = xmlrpc.client.dumps(({"name": ["x"]}, "or"), "search").encode()
    missing = requests.post(f"{live.url}/+search?x", data=valid, headers=headers, timeout=30)
    assert xmlrpc.client.loads(missing.content)[0] == ([],)
    proxy = xmlrpc.client.ServerProxy(f"{live.url}/{index.split('/')[0]}/gone/")
    with pytest.raises(xmlrpc.client.Fault, match="does not exist"):
        proxy.search({"name": ["x"]}, "or")
    assert search(live, "ok").status_code == 200


def test_xmlrpc_search_and_operator(listed):
    live, _upstream = listed
    index, auth = new_index(live)
    release(live, index, auth, "alpha-pkg", summary="first gamma")
    release(live, index, auth, "beta-pkg", summary="second gamma")
    wait_indexed(live)
    proxy = xmlrpc.client.ServerProxy(f"{live.url}/{index}/")
    either = proxy.search({"name": ["alpha"], "summary": ["second"]}, "or")
    assert sorted(hit["name"] for hit in either) == ["alpha-pkg", "beta-pkg"]
    both = proxy.search({"name": ["alpha"], "summary": ["gamma"]}, "and")
    assert [(hit["name"], hit["version"]) for hit in both] == [("alpha-pkg", "1.0")]
    assert all(isinstance(hit["_pypi_ordering"], int) for hit in either)
