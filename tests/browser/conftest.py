"""Headless Chromium for the web UI tests, driven by Playwright (the system's browser)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "functional"))

#: Flags for a browser that must not talk to anything but the server under test.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str:
    """The browser to drive: ``$CELLAR_CHROMIUM`` or the first Chromium on ``PATH``."""
    found = os.environ.get("CELLAR_CHROMIUM") or next(
        (path for path in map(shutil.which, CANDIDATES) if path), None
    )
    if not found:
        pytest.fail(
            "the web UI tests need Chromium: install it (Debian/Ubuntu: apt-get install "
            "chromium) or point CELLAR_CHROMIUM at a Chromium or Chrome binary"
        )
    return found


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, tmp_path):
    """A fresh browser context (no cookies, no cache) and one page in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: ``$CELLAR_SCREENSHOTS`` when set (to look at them), else tmp."""
    where = Path(os.environ.get("CELLAR_SCREENSHOTS") or tmp_path / "shots")
    where.mkdir(parents=True, exist_ok=True)
    return where
