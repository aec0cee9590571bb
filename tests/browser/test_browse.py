"""A person in a real browser: find an uploaded package, read its page, results and docs."""

from __future__ import annotations

import json
import time

import pytest
import requests
from distfiles import doczip
from distfiles import upload
from distfiles import wheel

ALICE = ("alice", "alicepw")
PROJECT = "sparkle-widget"
README = """# Sparkle widget

Makes **everything** shine.

<script>document.title = "owned"</script>
"""
TOX_RESULT = {
    "reportversion": "1",
    "toxversion": "4.20.0",
    "platform": "linux",
    "host": "build-3",
    "testenvs": {
        "py311": {
            "python": {"implementation": "CPython", "version": "3.11.7"},
            "result": {"success": True, "exit_code": 0, "duration": 2.0},
            "setup": [{"command": ["pip", "install", "x.whl"], "output": "ok", "retcode": 0}],
            "test": [{"command": ["pytest"], "output": "3 passed", "retcode": 0}],
        }
    },
}
DOCS = {
    "index.html": b"<html><head><title>Sparkle manual</title></head>"
    b"<body><h1>Sparkle manual</h1><p>Polish with a soft cloth.</p>"
    b'<a href="usage/index.html">Usage</a></body></html>',
    "usage/index.html": b"<html><body><h1>Using the widget</h1></body></html>",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from cheesecellar.testing import start_live_cellar

    live = start_live_cellar(tmp_path_factory.mktemp("browse"), extra={"no_root_pypi": True})
    with live.session() as session:
        session.put("/alice", json={"password": ALICE[1], "email": "alice@example.org"})
        session.login(*ALICE)
        session.put("/alice/dev", json={"title": "Alice's packages"}).raise_for_status()
    dist = wheel(
        PROJECT, "1.0", summary="Makes every surface shine", description=README,
        description_content_type="text/markdown", extra_headers=["Keywords: polish,shine"],
    )  # fmt: skip
    upload(f"{live.url}/alice/dev/", dist, ALICE).raise_for_status()
    docs = {":action": "doc_upload", "name": PROJECT, "version": "1.0"}
    requests.post(
        f"{live.url}/alice/dev/", data=docs, auth=ALICE, timeout=30,
        files={"content": (f"{PROJECT}-1.0.doc.zip", doczip(DOCS), "application/zip")},
    ).raise_for_status()  # fmt: skip
    file_url = f"{live.url}/alice/dev/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}/{dist.filename}"
    requests.post(
        file_url, data=json.dumps(TOX_RESULT), timeout=30,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    ).raise_for_status()  # fmt: skip
    wait_until_found(live, "sparkle")
    yield live
    live.stop()


def wait_until_found(live, query: str, timeout: float = 60.0) -> None:
    """Indexing runs in the background: wait until the search API finds the project."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = requests.get(
            f"{live.url}/+search", params={"query": query},
            headers={"Accept": "application/json"}, timeout=30,
        )  # fmt: skip
        if reply.ok and reply.json()["result"]["hits"]:
            return
        time.sleep(0.1)
    pytest.fail(f"the search index never found {query!r}")


def test_find_read_and_open_docs(site, page, shots):
    page.goto(site.url + "/")
    assert page.locator('a[href$="/alice/dev"]').count() >= 1
    page.screenshot(path=shots / "01-root.png", full_page=True)

    page.fill('input[name="query"]', "sparkle")
    page.keyboard.press("Enter")
    page.wait_for_url("**/+search?*")
    hit = page.locator(f'a[href$="/alice/dev/{PROJECT}/1.0"]').first
    assert hit.is_visible()
    page.screenshot(path=shots / "02-search.png", full_page=True)

    hit.click()
    page.wait_for_url(f"**/alice/dev/{PROJECT}/1.0")
    body = page.locator("body")
    assert "Makes every surface shine" in body.inner_text()
    assert page.locator("strong", has_text="everything").count() == 1  # the readme, rendered
    assert page.title() != "owned"  # its script tag did not run
    assert "passed" in body.inner_text().lower()  # the tox result of the wheel
    command = page.locator("#pip-command").input_value()
    assert command == f"pip install -i {site.url}/alice/dev/+simple/ {PROJECT}==1.0"
    page.screenshot(path=shots / "03-version.png", full_page=True)

    page.locator('a[href*="/+doc/"]').first.click()
    page.wait_for_url("**/+doc/**")
    assert page.get_by_role("heading", name="Sparkle manual").is_visible()
    page.screenshot(path=shots / "04-docs.png", full_page=True)
    page.get_by_role("link", name="Usage").click()
    assert page.get_by_role("heading", name="Using the widget").is_visible()


def test_pages_work_without_javascript(site, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site.url}/+search?query=shine")
    page.locator(f'a[href$="/alice/dev/{PROJECT}/1.0"]').first.click()
    assert "Makes every surface shine" in page.locator("body").inner_text()
    context.close()


def test_page_fits_a_phone(site, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{site.url}/alice/dev/{PROJECT}/1.0")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, f"the version page scrolls sideways on a phone ({width}px)"
    context.close()


PAGES = {
    "root": "/",
    "user": "/alice",
    "index": "/alice/dev",
    "project": f"/alice/dev/{PROJECT}",
    "version": f"/alice/dev/{PROJECT}/1.0",
    "toxresults": f"/alice/dev/{PROJECT}/1.0/+toxresults/sparkle_widget-1.0-py3-none-any.whl",
    "docs-framed": f"/alice/dev/{PROJECT}/1.0/+d/",
    "status": "/+status",
    "search": "/+search?query=shine",
    "searchhelp": "/+searchhelp",
    "notfound": "/alice/nosuchindex",
}


def test_no_request_leaves_the_server(site, browser, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    outside = []
    page.on(
        "request", lambda req: outside.append(req.url) if not req.url.startswith(site.url) else None
    )
    for name, path in PAGES.items():
        reply = page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        assert reply.status == (404 if name == "notfound" else 200), name
        assert reply.headers["content-type"].startswith("text/html"), name
        page.screenshot(path=shots / f"page-{name}.png", full_page=True)
    context.close()
    assert outside == []
