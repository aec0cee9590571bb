"""The real devpi client uploads, lists, pushes and removes releases on ``cellar serve``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests
from packages import DistBuilder
from packages import Sample

pytestmark = pytest.mark.e2e

JSON = {"Accept": "application/json", "Content-Type": "application/json"}
LISTED = Sample("rocket-listed", "1.0")
PUSHED = Sample("rocket-pushed", "1.0")
GONE = (Sample("rocket-gone", "1.0"), Sample("rocket-gone", "2.0"))
KEPT = Sample("rocket-kept", "1.0")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Wheel and sdist of every sample, by sample."""
    samples = (LISTED, PUSHED, *GONE, KEPT)
    builder = DistBuilder(tmp_path_factory.mktemp("dists"))
    return dict(zip(samples, builder.build(*samples), strict=True))


@pytest.fixture(scope="module")
def accounts(cellar_process):
    """emilie with emilie/dev (volatile) and emilie/prod (not); sophie with sophie/prod."""
    with requests.Session() as http:
        http.headers.update(JSON)
        for user in ("emilie", "sophie"):
            http.put(f"{cellar_process.url}/{user}", json={"password": "1234"}).raise_for_status()
            for index, volatile in (("dev", True), ("prod", False)):
                http.put(
                    f"{cellar_process.url}/{user}/{index}",
                    json={"volatile": volatile},
                    auth=(user, "1234"),
                ).raise_for_status()
    return cellar_process


@pytest.fixture
def emilie(devpi, accounts):
    """The client logged in as emilie, using emilie/dev."""
    devpi.run("use", accounts.url)
    devpi.run("login", "emilie", "--password", "1234")
    devpi.run("use", "emilie/dev")
    return devpi


def file_url(url: str, index: str, path) -> str:
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{url}/{index}/+f/{sha256[:3]}/{sha256[3:16]}/{path.name}"


def release_urls(url: str, index: str, *releases) -> list[str]:
    """What ``devpi list SPEC`` prints: every file URL, newest version first."""
    ordered = sorted(releases, key=lambda r: r.sample.version, reverse=True)
    return [file_url(url, index, path) for release in ordered for path in release.files]


def upload(client, url: str, *releases) -> None:
    files = [str(path) for release in releases for path in release.files]
    out = client.run("upload", *files).lines
    for path in files:
        name = path.rsplit("/", 1)[1]
        assert f"file_upload of {name} to {url}/emilie/dev/" in out


def test_upload_and_list(emilie, accounts, built):
    release = built[LISTED]
    upload(emilie, accounts.url, release)
    assert "rocket-listed" in emilie.run("list").lines
    listed = emilie.run("list", "rocket-listed").lines
    assert sorted(listed) == sorted(release_urls(accounts.url, "emilie/dev", release))
    assert "rocket-listed==1.0" in emilie.run("list", "-v").lines


def test_push_to_prod_and_list_it_there(emilie, accounts, built):
    release = built[PUSHED]
    upload(emilie, accounts.url, release)
    out = emilie.run("push", "rocket-pushed==1.0", "emilie/prod").lines
    stored = [file_url("", "emilie/prod", path)[1:] for path in release.files]
    # files are pushed in upload order, which follows the client's sorting of file names
    assert out[0] == "   200 register rocket-pushed 1.0 -> emilie/prod"
    assert sorted(out[1:]) == sorted(f"   200 store_releasefile {relpath}" for relpath in stored)
    listed = emilie.run("list", "--index", "emilie/prod", "rocket-pushed").lines
    assert sorted(listed) == sorted(release_urls(accounts.url, "emilie/prod", release))
    again = emilie.run("push", "rocket-pushed==1.0", "emilie/prod", ok=False).output
    # the first file that conflicts is named; which one that is follows the upload order
    assert any(
        f"409 Conflict: {path.name} already exists in non-volatile index" in again
        for path in release.files
    )


def test_push_to_another_users_index_is_refused(emilie, accounts, built):
    upload(emilie, accounts.url, built[LISTED])
    out = emilie.run("push", "rocket-listed==1.0", "sophie/prod", ok=False).output
    assert "401 Unauthorized: user 'emilie' cannot upload to 'sophie/prod'" in out
    assert emilie.run("list", "--index", "sophie/prod").lines == []


def test_remove_from_a_volatile_index(emilie, accounts, built):
    upload(emilie, accounts.url, *(built[sample] for sample in GONE))
    out = emilie.run("remove", "-y", "rocket-gone==1.0").lines
    assert "deleting release 1.0 of rocket-gone" in out
    left = emilie.run("list", "rocket-gone").lines
    assert sorted(left) == sorted(release_urls(accounts.url, "emilie/dev", built[GONE[1]]))
    emilie.run("remove", "-y", "rocket-gone")
    assert "rocket-gone" not in emilie.run("list").lines
    missing = emilie.run("list", "rocket-gone", ok=False).output
    assert "404 Not Found" in missing


def test_remove_from_a_non_volatile_index_needs_force(emilie, accounts, built):
    upload(emilie, accounts.url, built[KEPT])
    emilie.run("push", "rocket-kept==1.0", "emilie/prod")
    emilie.run("use", "emilie/prod")
    refused = emilie.run("remove", "-y", "rocket-kept==1.0", ok=False).output
    assert "403 Forbidden: cannot delete version on non-volatile index" in refused
    assert "rocket-kept" in emilie.run("list").lines
    out = emilie.run("remove", "-y", "--force", "rocket-kept==1.0").lines
    assert "deleting release 1.0 of rocket-kept" in out
    assert "rocket-kept" not in emilie.run("list").lines
    assert "rocket-kept" in emilie.run("list", "--index", "emilie/dev").lines


def test_push_to_an_external_repository_is_refused_clearly(emilie, accounts, built):
    upload(emilie, accounts.url, built[LISTED])
    pypirc = "[elsewhere]\nrepository = https://upload.example.invalid/legacy/\n"
    pypirc += "username = emilie\npassword = secret\n"
    (Path(emilie.env["HOME"]) / ".pypirc").write_text(pypirc)
    out = emilie.run("push", "rocket-listed==1.0", "pypi:elsewhere", ok=False).output
    assert "400 Bad Request: pushing to an external repository (posturl) is not supported" in out
    assert "Failure during upload" in out
