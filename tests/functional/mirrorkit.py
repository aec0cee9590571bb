"""Helpers for the mirror's tests: mirror indexes of a live server on a local upstream."""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from cheesecellar.testing import CellarSession
from cheesecellar.testing import LiveCellar
from cheesecellar.testing import start_live_cellar

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
JSON_ACCEPT = {"Accept": JSON_TYPE}
HTML_ACCEPT = {"Accept": "text/html"}
#: Seconds the servers of these tests wait for an upstream.
REQUEST_TIMEOUT = 1.0
TIMEOUT = 60


def start_shared_cellar(serverdir: Path) -> LiveCellar:
    """A server for a test module: no ``root/pypi`` (nothing may reach the internet);
    each test adds a mirror index of its own with :func:`new_mirror`."""
    extra = {"no_root_pypi": True, "request_timeout": REQUEST_TIMEOUT}
    return start_live_cellar(serverdir, extra=extra)


@pytest.fixture(scope="module")
def shared(request, tmp_path_factory):
    """One server (and an admin session) for a test module; each test makes its own
    mirror index on it with :func:`mirror`."""
    live = start_shared_cellar(tmp_path_factory.mktemp(request.module.__name__.split(".")[-1]))
    with admin_session(live) as admin:
        yield live, admin
    live.stop()


@pytest.fixture
def mirror(shared, upstream):
    """A new mirror index on the module's server, in front of the test's upstream."""
    return new_mirror(*shared, upstream)


def start_root_pypi(make_cellar, upstream, **settings) -> LiveCellar:
    """A server of its own whose ``root/pypi`` mirrors ``upstream``, set when the server
    directory is made (as ``cellar init --mirror-url`` does)."""
    extra = {"mirror_url": upstream.index_url, "request_timeout": REQUEST_TIMEOUT}
    extra.update(settings.pop("extra", {}))
    return make_cellar(extra=extra, **settings)


#: The name other test modules know :func:`start_root_pypi` by.
start_mirror = start_root_pypi


def stored_files(live: LiveCellar, index: str = "root/pypi") -> list[Path]:
    """Every file kept under ``+files/{index}/+f`` of ``live``."""
    # A client has its file before the server stores it; the tree follows each commit.
    live.running.registry.cellar_mirror.downloads.wait_idle()
    live.storage.wait_for_files()
    root = live.serverdir / "+files" / index / "+f"
    return sorted(path for path in root.rglob("*") if path.is_file())


def admin_session(live: LiveCellar) -> CellarSession:
    """A JSON API session logged in as root (empty password on a new server)."""
    session = live.session()
    session.login("root", "")
    return session


def unique(prefix: str) -> str:
    """A name no other test of the run uses (for users and indexes of a shared server);
    random, as this module is loaded twice (as a fixture plugin and by the tests)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@dataclasses.dataclass
class Mirror:
    """A mirror index of a live server and the upstream it mirrors."""

    live: LiveCellar
    index: str
    upstream: object
    admin: CellarSession

    @property
    def url(self) -> str:
        return f"{self.live.url}/{self.index}"

    def page(self, project: str, **headers) -> requests.Response:
        """GET the simple page of ``project`` (PEP 691 JSON unless headers say otherwise)."""
        url = f"{self.url}/+simple/{project}/"
        return requests.get(url, headers=headers or JSON_ACCEPT, timeout=TIMEOUT)

    def json_page(self, project: str) -> dict:
        reply = self.page(project)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def names(self, **headers) -> requests.Response:
        """GET the project list (PEP 691 JSON unless headers say otherwise)."""
        url = f"{self.url}/+simple/"
        return requests.get(url, headers=headers or JSON_ACCEPT, timeout=TIMEOUT)

    def patch(self, *operations: str) -> dict:
        """Apply ``key=value`` operations to the index as root; return the new config."""
        reply = self.admin.patch(f"/{self.index}", json=list(operations))
        assert reply.status_code == 200, reply.text
        return reply.json()["result"]

    def relpath(self, dist) -> str:
        """Where an upstream file lives: ``{index}/+f/<3>/<13>/<name>``."""
        sha256 = dist.sha256
        return f"{self.index}/+f/{sha256[:3]}/{sha256[3:16]}/{dist.filename}"

    def file_url(self, dist) -> str:
        return f"{self.live.url}/{self.relpath(dist)}"

    def stored_path(self, dist) -> Path:
        return self.live.serverdir / "+files" / self.relpath(dist)

    def stored_bytes(self, dist, timeout: float = 10.0) -> bytes:
        """The bytes of a cached file on disk. A commit's files reach the file tree
        shortly after it, so this waits for the file to appear."""
        path = self.stored_path(dist)
        wait_for(path.is_file, timeout)
        return path.read_bytes()

    def stored_files(self) -> list[Path]:
        """Every file kept under ``+files/{index}/+f``."""
        return stored_files(self.live, self.index)


def new_mirror(live: LiveCellar, admin: CellarSession, upstream, **config) -> Mirror:
    """Create a mirror index of ``upstream`` with a name of its own on ``live``."""
    index = unique("root/mirror")
    body = {"type": "mirror", "mirror_url": upstream.index_url, **config}
    reply = admin.put(f"/{index}", json=body)
    assert reply.status_code == 200, reply.text
    return Mirror(live, index, upstream, admin)


def root_pypi(live: LiveCellar, upstream) -> Mirror:
    """``root/pypi`` of a server made by :func:`start_root_pypi`."""
    return Mirror(live, "root/pypi", upstream, admin_session(live))


def leftovers(live: LiveCellar) -> list[Path]:
    """Files downloads left in the mirror's temporary directory."""
    tmpdir = live.serverdir / ".mirror-tmp"
    return sorted(path for path in tmpdir.rglob("*") if path.is_file())


def wait_for(condition, timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{condition} did not hold within {timeout} s"
        time.sleep(0.01)


def user_index(live: LiveCellar, index: str, **config) -> tuple[str, str]:
    """Create the user of ``user/index`` (password ``user + "pw"``) and the index;
    return the user's credentials."""
    user = index.split("/")[0]
    auth = (user, user + "pw")
    with live.session() as session:
        session.put(f"/{user}", json={"password": auth[1]}).raise_for_status()
        session.login(*auth)
        session.put(f"/{index}", json=config).raise_for_status()
    return auth


# --- the upstream ----------------------------------------------------------------------------
def dist_named(upstream, filename: str):
    """The upstream's file called ``filename``."""
    return next(dist for dist in upstream.catalog.files() if dist.filename == filename)


def exact_requests(upstream, path: str) -> int:
    """How many times the upstream was asked for exactly ``path``."""
    return sum(1 for record in list(upstream.requests) if record.path == path)


def page_requests(upstream, project: str) -> int:
    """How many times the upstream was asked for the page of ``project``."""
    return exact_requests(upstream, f"/simple/{project}/")


def mislabelled(catalog, project: str, version: str, payload: int):
    """Add a release whose advertised sha256 is not that of its bytes: an upstream
    that serves other bytes than its page promises."""
    real = catalog.add(project, version, payload=payload)
    wrong = dataclasses.replace(real, sha256=hashlib.sha256(b"other bytes").hexdigest())
    with catalog._lock:
        catalog._insert(wrong)
    return wrong


# --- reading pages ---------------------------------------------------------------------------
def filenames(page: dict) -> set[str]:
    return {entry["filename"] for entry in page["files"]}


def entry_of(page: dict, filename: str) -> dict:
    return next(entry for entry in page["files"] if entry["filename"] == filename)


def absolute(page_url: str, href: str) -> str:
    return urljoin(page_url, href)


class Anchors(HTMLParser):
    """The ``<a>`` elements of an HTML page: ``{text: attributes}``, in page order."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.found: dict[str, dict] = {}
        self._current: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._current = dict(attrs)

    def handle_data(self, data):
        if self._current is not None:
            self.found[data] = self._current
            self._current = None
