"""Web pages beyond browsing: tox results, status, a mirror's cache and search."""

from __future__ import annotations

import copy
import hashlib
import io
import itertools
import json
import time

import pytest
import requests
from clientkit import toxresult
from distfiles import upload
from distfiles import wheel
from mirrorkit import dist_named
from webkit import assert_html
from webkit import browser_get
from webkit import links
from webkit import page_text

from cheesecellar import hookimpl
from cheesecellar.model import keys
from cheesecellar.model import releases
from cheesecellar.search import Fragment
from cheesecellar.search import SearchHit
from cheesecellar.search import SearchQueryError
from cheesecellar.search import SearchResults

TOM = ("tom", "tompw")
JSON = {"Accept": "application/json"}
POST_JSON = {"Accept": "application/json", "Content-Type": "application/json"}
HOSTILE = "<script>alert('x')</script>"
_numbers = itertools.count()


@pytest.fixture(scope="module")
def site(server):
    with server.session() as session:
        session.put(f"/{TOM[0]}", json={"password": TOM[1]}).raise_for_status()
        session.login(*TOM)
        session.put("/tom/dev", json={}).raise_for_status()
    return server


# --- tox results -------------------------------------------------------------------------------


def released_wheel(live) -> tuple[str, str, str]:
    """``(project, file name, file URL)`` of a new wheel in tom/dev."""
    project = f"tested{next(_numbers)}"
    dist = wheel(project, "1.0")
    upload(f"{live.url}/tom/dev/", dist, TOM).raise_for_status()
    url = f"{live.url}/tom/dev/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}/{dist.filename}"
    return project, dist.filename, url


def post_result(url: str, result: dict) -> None:
    reply = requests.post(url, data=json.dumps(result), headers=POST_JSON, timeout=30)
    assert reply.status_code == 200, reply.text


def store_broken_result(live, project: str, filename: str, content: bytes) -> None:
    """A stored result that is not what tox writes (an import or an older server)."""
    with live.storage.transaction(write=True) as tx:
        verdata = releases.get_version(tx, "tom/dev", project, "1.0")
        release = next(e for e in verdata[releases.FILES] if e["filename"] == filename)
        name = f"{filename}.toxresult-20990101000000-{next(_numbers)}"
        directory = release["relpath"].rpartition("/")[0]
        releases.add_file(
            tx, "tom/dev", project, "1.0", name, io.BytesIO(content),
            hashlib.sha256(content).hexdigest(), who=None, volatile=True, filetype="toxresult",
            extra={"for_relpath": release["relpath"]}, relpath=f"{directory}/{name}",
        )  # fmt: skip


def toxresults_url(live, project: str, filename: str) -> str:
    return f"{live.url}/tom/dev/{project}/1.0/+toxresults/{filename}"


def test_toxresults_page_shows_every_result_newest_first(site):
    project, filename, url = released_wheel(site)
    passing = toxresult("py311", retcode=0, host="ci-linux", output="3 passed")
    passing["testenvs"]["py311"]["python"]["version"] = "3.11.7 (main) [GCC]"
    post_result(url, passing)
    failing = toxresult("py312", retcode=1, host="ci-mac", output=f"FAILED {HOSTILE}")
    failing["platform"] = "darwin"
    post_result(url, failing)

    html = assert_html(browser_get(toxresults_url(site, project, filename)))
    text = page_text(html)
    assert text.index("ci-mac") < text.index("ci-linux"), "newest first"
    for shown in ("py311", "py312", "3.11.7", "darwin", "linux", "passed", "failed"):
        assert shown in text
    assert "python -m pytest" in text
    assert "exit 1" in text and "exit 0" in text
    assert "3 passed" in text
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert f"{site.url}/tom/dev/{project}/1.0" in links(html)


def test_toxresults_json_lists_the_parsed_results(site):
    project, filename, url = released_wheel(site)
    post_result(url, toxresult("py", retcode=0))
    bad = copy.deepcopy(toxresult("py", retcode=2))
    bad["testenvs"]["py"]["setup"][0]["retcode"] = "1"  # tox 3 wrote strings
    post_result(url, bad)
    reply = requests.get(toxresults_url(site, project, filename), headers=JSON)
    assert reply.status_code == 200
    assert "Accept" in reply.headers["Vary"]
    body = reply.json()
    assert body["type"] == "toxresults"
    newest, oldest = body["result"]
    assert newest["status"] == "failed"
    assert newest["envs"][0]["status"] == "setup failed"
    assert newest["envs"][0]["setup"][0]["retcode"] == "1"
    assert oldest["status"] == "passed"
    assert oldest["envs"][0]["test"][0] == {
        "command": "python -m pytest", "retcode": "0", "output": "", "ok": True,
    }  # fmt: skip
    assert oldest["host"] == "ci-host"
    assert oldest["href"].startswith(url + ".toxresult-")


@pytest.mark.parametrize(
    ("content", "note"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "has no tox environments"),
        (b'{"testenvs": "py"}', "has no tox environments"),
        ("\udcff".encode("utf-8", "surrogatepass"), "not valid JSON"),
    ],
)
def test_a_malformed_stored_result_gets_a_note(site, content, note):
    project, filename, url = released_wheel(site)
    post_result(url, toxresult("py", retcode=0, host="good-host"))
    store_broken_result(site, project, filename, content)
    html = assert_html(browser_get(toxresults_url(site, project, filename)))
    assert note in page_text(html)
    assert "good-host" in page_text(html)
    reply = requests.get(toxresults_url(site, project, filename), headers=JSON)
    assert [run["problem"] is not None for run in reply.json()["result"]] == [True, False]


def test_toxresults_of_an_unknown_file_are_404(site):
    project, filename, _url = released_wheel(site)
    reply = requests.get(toxresults_url(site, project, "other-1.0.tar.gz"), headers=JSON)
    assert reply.status_code == 404
    assert "no release file 'other-1.0.tar.gz'" in reply.json()["message"]
    assert browser_get(toxresults_url(site, "nothing", filename)).status_code == 404
    empty = assert_html(browser_get(toxresults_url(site, project, filename)))
    assert "No tox results" in page_text(empty)


# --- status ------------------------------------------------------------------------------------


class StatusReporter:
    @hookimpl
    def cellar_status_info(self, registry):
        return [{"status": "warn", "msg": f"disk nearly full {HOSTILE}"}]

    @hookimpl
    def cellar_metrics(self, registry):
        return [("web_test_requests", "counter", 42)]


def test_status_page_for_browsers_json_for_clients(make_cellar):
    live = make_cellar(plugins=[StatusReporter()])
    info = requests.get(f"{live.url}/+status", headers=JSON).json()
    assert info["type"] == "status"
    html = assert_html(browser_get(f"{live.url}/+status"))
    text = page_text(html)
    assert info["result"]["uuid"] in text
    assert "degraded" in text
    assert "disk nearly full" in text
    assert HOSTILE not in html
    assert "web_test_requests" in text and "42" in text
    for label in ("Serial", "Last commit", "Event serial", "Event lag", "Replication", "Search"):
        assert label in text
    assert "This server is not a replica." in text
    curl = requests.get(f"{live.url}/+status", headers={"Accept": "*/*"})
    assert curl.headers["Content-Type"].startswith("application/json")


# --- what a mirror has cached ------------------------------------------------------------------


WHEEL = "requests-2.32.3-py3-none-any.whl"


def test_cached_view_lists_pages_and_files(mirror, upstream):
    before = time.time()
    mirror.json_page("requests")
    dist = dist_named(upstream, WHEEL)
    assert requests.get(mirror.file_url(dist), timeout=60).status_code == 200
    mirror.stored_bytes(dist)
    mirror.stored_files()

    reply = requests.get(f"{mirror.url}/+cached", headers=JSON)
    assert reply.status_code == 200
    body = reply.json()["result"]
    assert (body["projects_total"], body["files_total"], body["bytes_total"]) == (1, 1, dist.size)
    (project,) = body["projects"]
    assert project["name"] == "requests"
    assert project["fetched"] >= before
    assert project["files_listed"] >= 2
    assert project["files_cached"] == 1
    assert project["files"] == [
        {"filename": WHEEL, "size": dist.size, "href": mirror.file_url(dist)},
    ]
    html = assert_html(browser_get(f"{mirror.url}/+cached"))
    assert WHEEL in page_text(html)
    assert f"{mirror.url}/requests" in links(html)


def write_cached_pages(live, index: str, count: int) -> None:
    with live.storage.transaction(write=True) as tx:
        for number in range(count):
            name = f"proj{number:04d}"
            record = {"page": {"name": name, "files": []}, "fetched": 1_700_000_000}
            tx.set(keys.mirror_page(index, name), record)


def test_cached_view_is_paged(mirror):
    write_cached_pages(mirror.live, mirror.index, 205)
    url = f"{mirror.url}/+cached"
    second = requests.get(url, params={"page": "2"}, headers=JSON).json()["result"]
    assert (second["page"], second["pages"], second["projects_total"]) == (2, 3, 205)
    assert [p["name"] for p in second["projects"]] == [f"proj{n:04d}" for n in range(100, 200)]
    third = requests.get(url, params={"page": "3"}, headers=JSON).json()["result"]
    assert len(third["projects"]) == 5
    assert third["projects"][0]["fetched"] == 1_700_000_000
    html = assert_html(browser_get(f"{url}?page=2"))
    assert f"{url}?page=1" in links(html) and f"{url}?page=3" in links(html)
    assert "2023-11-14 22:13:20 UTC" in page_text(html)
    assert requests.get(url, params={"page": "4"}, headers=JSON).status_code == 404
    for bad in ("0", "abc", "-1"):
        reply = requests.get(url, params={"page": bad}, headers=JSON)
        assert reply.status_code == 400, bad
        assert "page" in reply.json()["message"]


def test_cached_view_of_a_private_index_is_404(shared):
    live, admin = shared
    admin.put("/root/private", json={}).raise_for_status()
    reply = requests.get(f"{live.url}/root/private/+cached", headers=JSON)
    assert reply.status_code == 404
    assert "not a mirror index" in reply.json()["message"]
    page = browser_get(f"{live.url}/root/private/+cached")
    assert page.status_code == 404
    assert "not a mirror index" in page_text(page.text)
    assert requests.get(f"{live.url}/root/nothing/+cached", headers=JSON).status_code == 404


# --- search ------------------------------------------------------------------------------------


class FakeSearch:
    """A search engine of a third-party plugin: 45 hits for anything but two queries."""

    def __init__(self) -> None:
        self.asked: list[tuple] = []

    def search(self, query, *, page=1, per_page=20, indexname=None):
        self.asked.append((query, page, per_page, indexname))
        if query == "bad(":
            raise SearchQueryError(f"the search query cannot be understood: {HOSTILE}")
        total = 0 if query == "nothing" else 45
        start = (page - 1) * per_page
        hits = tuple(self._hit(n) for n in range(start, min(total, start + per_page)))
        return SearchResults(query, page, per_page, total, hits)

    def _hit(self, number: int) -> SearchHit:
        kind = ("project", "doc", "mirror")[number % 3]
        fragment = Fragment(("before ", f"{HOSTILE}", " between ", "match", " end"))
        return SearchHit(
            kind=kind, user="tom", index="dev", project=f"hit{number}", version="1.0",
            path=f"/tom/dev/hit{number}/1.0", title=f"Hit {number} {HOSTILE}",
            summary=f"summary {number}", fragments=(fragment,),
        )  # fmt: skip

    def search_fields(self, fields, operator, indexname=None):
        return []

    def status(self):
        return {"indexed-serial": 7, "queued": 0, "engine": "fake"}

    def rebuild(self):
        pass


class FakeSearchPlugin:
    def __init__(self) -> None:
        self.backend = FakeSearch()

    @hookimpl
    def cellar_get_search_backend(self, registry):
        return self.backend


class NoSearch:
    """Takes away whatever engine the other plugins offer."""

    @hookimpl(wrapper=True)
    def cellar_get_search_backend(self, registry):
        yield
        return None


@pytest.fixture
def searchable(make_cellar):
    plugin = FakeSearchPlugin()
    return make_cellar(plugins=[plugin]), plugin.backend


def search_url(live, **params) -> str:
    return requests.Request("GET", f"{live.url}/+search", params=params).prepare().url


def test_a_third_party_engine_answers_the_search_page(searchable):
    live, backend = searchable
    html = assert_html(browser_get(search_url(live, query="cheese")))
    assert backend.asked == [("cheese", 1, 20, None)]
    text = page_text(html)
    assert "45 results for cheese" in text and "page 1 of 3" in text
    for kind in ("project", "doc page", "mirror name"):
        assert kind in text
    assert f"{live.url}/tom/dev/hit0/1.0" in links(html)
    assert "tom/dev" in text and "summary 0" in text
    assert "<mark>match</mark>" in html
    assert "<mark>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</mark>" in html
    assert HOSTILE not in html
    assert search_url(live, query="cheese", page="2") in [
        u.replace("&amp;", "&") for u in links(html)
    ]


def test_search_pages_and_index_limit(searchable):
    live, backend = searchable
    html = assert_html(browser_get(search_url(live, query="cheese", page="3", index="tom/dev")))
    assert backend.asked[-1] == ("cheese", 3, 20, "tom/dev")
    assert "page 3 of 3" in page_text(html)
    assert html.count('class="card search-hit ') == 5
    found = links(html)
    assert search_url(live, query="cheese", index="tom/dev", page="2") in found
    assert search_url(live, query="cheese", index="tom/dev", page="1") in found
    assert "Only what tom/dev sees" in page_text(html)


def test_no_results_and_bad_queries_are_pages(searchable):
    live, _backend = searchable
    nothing = assert_html(browser_get(search_url(live, query="nothing")))
    assert "No results for nothing" in page_text(nothing)  # the query in <strong>
    bad = browser_get(search_url(live, query="bad("))
    html = assert_html(bad, status=400)
    assert "The search could not be done" in page_text(html)
    assert "cannot be understood" in page_text(html)
    assert HOSTILE not in html
    bad_page = assert_html(browser_get(search_url(live, query="x", page="many")), status=400)
    assert "the page must be a number" in page_text(bad_page)


def test_an_empty_search_shows_the_form_and_help(searchable):
    live, backend = searchable
    html = assert_html(browser_get(f"{live.url}/+search"))
    assert backend.asked == []
    assert "How to search" in page_text(html)
    assert "summary:parser" in page_text(html)
    help_page = assert_html(browser_get(f"{live.url}/+searchhelp"))
    assert "prefix" in page_text(help_page) or "start with" in page_text(help_page)


def test_without_an_engine_the_page_says_so(make_cellar):
    live = make_cellar(plugins=[NoSearch()])
    assert live.running.registry.cellar_search is None
    html = assert_html(browser_get(search_url(live, query="cheese")), status=501)
    assert "no search engine" in page_text(html)
    status = assert_html(browser_get(f"{live.url}/+status"))
    assert "no search backend is installed" in page_text(status)


def test_status_page_shows_the_engines_report(searchable):
    live, _backend = searchable
    text = page_text(assert_html(browser_get(f"{live.url}/+status")))
    assert "indexed-serial" in text and "fake" in text
