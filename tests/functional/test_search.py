"""Search over a live server: what is indexed, ranking, doc pages, updates, bad queries."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from distfiles import doczip
from distfiles import post_form
from distfiles import upload
from distfiles import wheel

from cheesecellar.testing import start_live_cellar

INDEXED_WAIT = 30.0


# --- helpers (also used by the other search test modules) ----------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def new_index(live, **config) -> tuple[str, tuple[str, str]]:
    """A new user with a new index; returns ``("user/index", (user, password))``."""
    user = unique("u")
    auth = (user, "pw")
    with live.session() as api:
        assert api.put(f"/{user}", json={"password": "pw"}).status_code == 201
        api.login(*auth)
        reply = api.put(f"/{user}/dev", json=config)
        assert reply.status_code == 200, reply.text
    return f"{user}/dev", auth


def release(live, indexname: str, auth, name: str, version: str = "1.0", **metadata) -> None:
    """Upload a wheel and register the given metadata for it (summary, description, ...)."""
    url = f"{live.url}/{indexname}/"
    reply = upload(url, wheel(name, version, summary=metadata.get("summary", "a package")), auth)
    assert reply.status_code == 200, reply.text
    if metadata:
        fields = {":action": "submit", "name": name, "version": version, **metadata}
        reply = post_form(url, fields, auth)
        assert reply.status_code == 200, reply.text


def upload_docs(live, indexname: str, auth, name: str, version: str, pages: dict) -> None:
    url = f"{live.url}/{indexname}/"
    content = ("content", (f"{name}-{version}.doc.zip", doczip(pages), "application/zip"))
    fields = {":action": "doc_upload", "name": name, "version": version}
    reply = post_form(url, fields, auth, files=dict([content]))
    assert reply.status_code == 200, reply.text


def backend(live):
    return live.running.registry.cellar_search


def wait_indexed(live, timeout: float = INDEXED_WAIT) -> dict:
    """Poll until the indexer has indexed every serial committed so far."""
    wanted = live.storage.last_serial()
    deadline = time.monotonic() + timeout
    while True:
        status = backend(live).status()
        if status["indexed-serial"] >= wanted and not status["building"]:
            return status
        if time.monotonic() > deadline:
            pytest.fail(f"search index stuck at {status}, wanted serial {wanted}")
        time.sleep(0.02)


def search(live, query: str, **params) -> requests.Response:
    return requests.get(
        f"{live.url}/+search",
        params={"query": query, **params},
        headers={"Accept": "application/json"},
        timeout=30,
    )


def hits(live, query: str, **params) -> list[dict]:
    reply = search(live, query, **params)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["type"] == "searchresults"
    return body["result"]["hits"]


def projects(found: list[dict]) -> list[tuple[str, str]]:
    return [(hit["kind"], hit["project"]) for hit in found]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_live_cellar(tmp_path_factory.mktemp("search"), extra={"no_root_pypi": True})
    yield server
    server.stop()


# --- what is found, and in which order -------------------------------------------------------


@pytest.fixture(scope="module")
def ranked(live):
    """Five projects that each have the word "quokka" in another place."""
    index, auth = new_index(live)
    release(live, index, auth, "quokka", summary="a marsupial library")
    release(live, index, auth, "quokka-tools", summary="tools")
    release(live, index, auth, "summed", summary="helpers for quokka data")
    release(live, index, auth, "described", summary="other", description="Works with quokka.")
    release(live, index, auth, "documented", summary="unrelated")
    page = b"<html><head><title>Guide</title></head><body><p>A quokka in the docs.</p></body>"
    upload_docs(live, index, auth, "documented", "1.0", {"guide/intro.html": page})
    wait_indexed(live)
    return index


def test_exact_name_first_then_name_summary_description_docs(live, ranked):
    found = hits(live, "quokka", index=ranked)
    assert projects(found) == [
        ("project", "quokka"),
        ("project", "quokka-tools"),
        ("project", "summed"),
        ("project", "described"),
        ("doc", "documented"),
    ]
    assert found[0]["path"] == f"/{ranked}/quokka/1.0"
    assert found[0]["version"] == "1.0"
    assert found[0]["score"] > found[1]["score"] > found[-1]["score"]


def test_a_doc_page_hit_links_to_the_page(live, ranked):
    (doc,) = [hit for hit in hits(live, "quokka", index=ranked) if hit["kind"] == "doc"]
    assert doc["path"] == f"/{ranked}/documented/1.0/+doc/guide/intro.html"
    assert doc["title"] == "Guide"
    assert {"text": "quokka", "match": True} in doc["fragments"][0]


def test_summary_fragment_marks_the_match(live, ranked):
    (summed,) = [hit for hit in hits(live, "quokka", index=ranked) if hit["project"] == "summed"]
    assert summed["fragments"][0] == [
        {"text": "helpers for ", "match": False},
        {"text": "quokka", "match": True},
        {"text": " data", "match": False},
    ]


def test_query_language_fields_prefix_and_operators(live, ranked):
    assert projects(hits(live, "summary:quokka", index=ranked)) == [("project", "summed")]
    assert ("project", "quokka-tools") in projects(hits(live, "quokk*", index=ranked))
    both = hits(live, "quokka AND marsupial", index=ranked)
    assert projects(both) == [("project", "quokka")]
    without = projects(hits(live, "quokka NOT marsupial", index=ranked))
    assert ("project", "quokka") not in without and ("project", "summed") in without
    assert projects(hits(live, '"quokka data"', index=ranked)) == [("project", "summed")]


def test_paging(live, ranked):
    first = search(live, "quokka", index=ranked, per_page=2).json()["result"]
    assert (first["total"], first["pages"], len(first["hits"])) == (5, 3, 2)
    third = search(live, "quokka", index=ranked, per_page=2, page=3).json()["result"]
    assert projects(third["hits"]) == [("doc", "documented")]
    beyond = search(live, "quokka", index=ranked, per_page=2, page=9)
    assert beyond.status_code == 200
    assert beyond.json()["result"]["hits"] == []


def test_search_limited_to_an_index_sees_its_bases(live, ranked):
    child, auth = new_index(live, bases=[ranked])
    release(live, child, auth, "quokka-child", summary="child")
    wait_indexed(live)
    found = projects(hits(live, "quokka", index=child))
    assert found[0] == ("project", "quokka")
    assert ("project", "quokka-child") in found
    assert ("project", "quokka-child") not in projects(hits(live, "quokka", index=ranked))
    assert search(live, "quokka", index="nobody/nothing").status_code == 404


# --- hostile and bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"query": ""}, "empty"),
        ({"query": "   "}, "empty"),
        ({"query": "x" * 5000}, "longer than"),
        ({"query": "((("}, "no words"),
        ({"query": "colour:red"}, "unknown field 'colour'"),
        ({"query": "q*"}, "wildcard"),
        ({"query": "*ab"}, "wildcard"),
        ({"query": "ok", "per_page": "0"}, "per_page"),
        ({"query": "ok", "per_page": "101"}, "per_page"),
        ({"query": "ok", "page": "zero"}, "page"),
        ({"query": "ok", "page": "-1"}, "page"),
        ({}, "query"),
    ],
)
def test_bad_queries_get_a_400_with_a_message(live, params, says):
    reply = requests.get(
        f"{live.url}/+search", params=params, headers={"Accept": "application/json"}, timeout=30
    )
    assert reply.status_code == 400, reply.text
    assert says in reply.json()["message"]


def test_a_prefix_matching_too_many_words_is_refused(live):
    index, auth = new_index(live)
    words = " ".join(f"zz{i:04d}" for i in range(1200))
    release(live, index, auth, "wordy", summary="wordy", description=words)
    wait_indexed(live)
    reply = search(live, "zz*")
    assert reply.status_code == 400
    assert "too many words" in reply.json()["message"]
    assert projects(hits(live, "zz0042")) == [("project", "wordy")]


def test_markup_in_metadata_comes_back_as_plain_text(live):
    index, auth = new_index(live)
    hostile = "<script>alert('x')</script> wombat <b>bold</b>"
    release(live, index, auth, "hostile", summary=hostile, description=hostile)
    wait_indexed(live)
    (hit,) = hits(live, "wombat", index=index)
    assert hit["summary"] == hostile
    texts = [part["text"] for fragment in hit["fragments"] for part in fragment]
    assert "<script>alert('x')</script> " in texts
    assert {"text": "wombat", "match": True} in hit["fragments"][0]


def test_script_and_style_of_doc_pages_are_not_indexed(live):
    index, auth = new_index(live)
    release(live, index, auth, "scripted")
    page = (
        b"<html><head><style>.platypus{}</style><script>var platypus = 1;</script></head>"
        b"<body><h1>Echidna</h1><p>Echidna facts.</p></body></html>"
    )
    upload_docs(live, index, auth, "scripted", "1.0", {"index.html": page, "a.txt": b"echidna"})
    wait_indexed(live)
    assert hits(live, "platypus", index=index) == []
    (doc,) = hits(live, "echidna", index=index)
    assert (doc["kind"], doc["title"], doc["path"]) == (
        "doc",
        "Echidna",
        f"/{index}/scripted/1.0/+doc/index.html",
    )


# --- incremental updates ---------------------------------------------------------------------


def test_a_new_version_replaces_the_indexed_metadata(live):
    index, auth = new_index(live)
    release(live, index, auth, "evolving", "1.0", summary="first gecko words")
    wait_indexed(live)
    assert hits(live, "gecko", index=index)[0]["version"] == "1.0"
    release(live, index, auth, "evolving", "2.0", summary="second iguana words")
    wait_indexed(live)
    (hit,) = hits(live, "iguana", index=index)
    assert (hit["version"], hit["path"]) == ("2.0", f"/{index}/evolving/2.0")
    assert hits(live, "gecko", index=index) == []


def test_deleted_project_and_index_and_user_drop_their_documents(live):
    index, auth = new_index(live)
    release(live, index, auth, "goner", summary="narwhal")
    release(live, index, auth, "stayer", summary="narwhal too")
    upload_docs(live, index, auth, "stayer", "1.0", {"index.html": b"<p>narwhal docs</p>"})
    wait_indexed(live)
    assert len(hits(live, "narwhal")) == 3
    with live.session() as api:
        api.login(*auth)
        assert api.delete(f"/{index}/goner").status_code == 200
        wait_indexed(live)
        assert projects(hits(live, "narwhal")) == [("project", "stayer"), ("doc", "stayer")]
        assert api.delete(f"/{index}").status_code == 201
        wait_indexed(live)
        assert hits(live, "narwhal") == []
        user = index.split("/")[0]
        assert api.put(f"/{user}/second", json={}).status_code == 200
        release(live, f"{user}/second", auth, "again", summary="narwhal again")
        wait_indexed(live)
        assert projects(hits(live, "narwhal")) == [("project", "again")]
        assert api.delete(f"/{user}").status_code == 200
    wait_indexed(live)
    assert hits(live, "narwhal") == []


def test_replaced_docs_replace_the_pages(live):
    index, auth = new_index(live)
    release(live, index, auth, "redoc")
    upload_docs(live, index, auth, "redoc", "1.0", {"old.html": b"<p>capybara</p>"})
    wait_indexed(live)
    assert projects(hits(live, "capybara")) == [("doc", "redoc")]
    upload_docs(live, index, auth, "redoc", "1.0", {"new.html": b"<p>axolotl</p>"})
    wait_indexed(live)
    assert hits(live, "capybara") == []
    (doc,) = hits(live, "axolotl")
    assert doc["path"].endswith("/redoc/1.0/+doc/new.html")


def test_searching_never_waits_for_the_indexer(live):
    """A search answers from the last committed index while uploads are being indexed."""
    index, auth = new_index(live)
    for number in range(5):
        release(live, index, auth, f"burst{number}", summary="meerkat")
        assert search(live, "meerkat").status_code == 200
    wait_indexed(live)
    assert len(hits(live, "meerkat")) == 5


def test_status_reports_progress(live):
    status = wait_indexed(live)
    assert status["queued"] == 0
    assert status["documents"] > 0
    assert status["last-error"] is None
    result = requests.get(
        f"{live.url}/+status", headers={"Accept": "application/json"}, timeout=30
    ).json()["result"]
    metrics = {name: value for name, _kind, value in result["metrics"]}
    assert metrics["cellar_search_queued"] == 0
    assert metrics["cellar_search_indexed_serial"] == status["indexed-serial"]
