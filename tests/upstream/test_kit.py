"""The local upstream is a real index: pip downloads from it, and its faults really happen."""

from __future__ import annotations

import hashlib
import http.client
import io
import itertools
import json
import tarfile
import threading
import zipfile

import pytest
import requests
from packaging.utils import canonicalize_name
from tests.upstream import fixtures
from tests.upstream.catalog import BENCH_ROOT
from tests.upstream.catalog import bench_catalog
from tests.upstream.catalog import bench_name
from tests.upstream.names import generate_names
from tests.upstream.pages import SIMPLE_HTML
from tests.upstream.pages import SIMPLE_JSON
from tests.upstream.pages import TEXT_HTML

make_upstream = fixtures.make_upstream
upstream = fixtures.upstream

JSON_ACCEPT = {"Accept": SIMPLE_JSON}
REQUESTS_CLOSURE = {
    "requests-2.32.3-py3-none-any.whl",
    "charset_normalizer-3.3.2-py3-none-any.whl",
    "idna-3.7-py3-none-any.whl",
    "urllib3-2.2.2-py3-none-any.whl",
    "certifi-2024.7.4-py3-none-any.whl",
}


def pip_download(tmp_path, index_url: str, requirement: str):
    """Run ``pip download`` isolated; returns (process, {filename: sha256})."""
    dest = tmp_path / "dest"
    args = ["download", requirement, "--no-cache-dir", "-i", index_url, "-d", str(dest)]
    process = fixtures.run_pip(args, fixtures.pip_env(tmp_path))
    assert process.returncode == 0, process.stdout + process.stderr
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in dest.iterdir()}


def page(server, project: str, **headers) -> requests.Response:
    return requests.get(server.page_url(project), headers=headers, timeout=10)


def file_of(server, filename: str):
    return next(file for file in server.catalog.files() if file.filename == filename)


# --- pip against the upstream ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["json", "html"])
def test_pip_download_gets_fake_requests_and_its_dependencies(make_upstream, tmp_path, mode):
    server = make_upstream(mode=mode)
    downloaded = pip_download(tmp_path, server.index_url, "requests==2.32.3")
    assert set(downloaded) == REQUESTS_CLOSURE
    for filename, sha256 in downloaded.items():
        assert file_of(server, filename).sha256 == sha256
    pages = server.matching("/simple/")
    expected = {SIMPLE_JSON} if mode == "json" else {SIMPLE_HTML, TEXT_HTML}
    assert len(pages) == 5
    assert {record.content_type for record in pages} <= expected
    assert {record.host.split(":")[0] for record in server.matching("/files/")} == {"localhost"}


def test_pip_download_of_the_bench_set_gets_every_package(make_upstream, tmp_path):
    server = make_upstream(bench_catalog(30))
    downloaded = pip_download(tmp_path, server.index_url, BENCH_ROOT)
    assert set(downloaded) == {
        f"{bench_name(i).replace('-', '_')}-1.2.0-py3-none-any.whl" for i in range(30)
    }


def test_credentials_go_to_the_index_host_only(make_upstream, tmp_path):
    server = make_upstream(auth=("user", "token"))
    assert requests.get(server.index_url, timeout=10).status_code == 401
    with_credentials = server.index_url.replace("http://", "http://user:token@")
    assert set(pip_download(tmp_path, with_credentials, "requests==2.32.3")) == REQUESTS_CLOSURE
    carried = server.authorized()
    assert carried
    assert all(record.path.startswith("/simple/") for record in carried)
    assert all(record.authorization is None for record in server.matching("/files/"))


def test_same_host_mode_protects_files_too(make_upstream):
    server = make_upstream(auth=("user", "token"), files_host=None)
    wheel = file_of(server, "idna-3.7-py3-none-any.whl")
    assert server.file_url(wheel).startswith(server.base_url)
    assert requests.get(server.file_url(wheel), timeout=10).status_code == 401
    allowed = requests.get(server.file_url(wheel), auth=("user", "token"), timeout=10)
    assert hashlib.sha256(allowed.content).hexdigest() == wheel.sha256


# --- pages -----------------------------------------------------------------------------------
def test_json_page_has_pep_691_and_700_fields(upstream):
    response = page(upstream, "requests", **JSON_ACCEPT)
    assert response.headers["Content-Type"] == SIMPLE_JSON
    body = response.json()
    assert body["meta"]["api-version"] == "1.1"
    assert body["versions"] == ["2.31.0", "2.32.0", "2.32.3"]
    files = {entry["filename"]: entry for entry in body["files"]}
    wheel = file_of(upstream, "requests-2.32.3-py3-none-any.whl")
    entry = files[wheel.filename]
    assert entry["hashes"] == {"sha256": wheel.sha256}
    assert entry["size"] == wheel.size
    assert entry["upload-time"] == "2024-05-29T15:37:47.000000Z"
    assert entry["requires-python"] == ">=3.8"
    assert entry["core-metadata"] == {"sha256": hashlib.sha256(wheel.metadata).hexdigest()}
    assert files["requests-2.32.0-py3-none-any.whl"]["yanked"].startswith("Yanked due to")
    assert files["requests-2.32.3.tar.gz"]["core-metadata"] is False
    metadata = requests.get(entry["url"] + ".metadata", timeout=10)
    assert hashlib.sha256(metadata.content).hexdigest() == entry["core-metadata"]["sha256"]
    assert b"Requires-Dist: idna<4,>=2.5" in metadata.content


def test_html_page_has_pep_503_attributes(upstream):
    body = page(upstream, "requests").text
    wheel = file_of(upstream, "requests-2.32.3-py3-none-any.whl")
    assert '<meta name="pypi:repository-version" content="1.1">' in body
    assert f'{upstream.file_url(wheel)}#sha256={wheel.sha256}"' in body
    assert 'data-requires-python="&gt;=3.8"' in body
    assert f'data-core-metadata="sha256={wheel.metadata_sha256}"' in body
    assert f'data-dist-info-metadata="sha256={wheel.metadata_sha256}"' in body
    assert 'data-yanked="Yanked due to conflicts' in body


def test_metadata_off_drops_attributes_and_files(make_upstream):
    server = make_upstream(metadata=False)
    assert "core-metadata" not in page(server, "idna").text
    entry = page(server, "idna", **JSON_ACCEPT).json()["files"][0]
    assert "core-metadata" not in entry
    assert requests.get(entry["url"] + ".metadata", timeout=10).status_code == 404


def test_names_are_normalised_by_redirect(upstream):
    response = requests.get(upstream.index_url + "Charset_Normalizer", allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"] == "/simple/charset-normalizer/"
    assert requests.get(upstream.index_url + "Charset_Normalizer", timeout=10).status_code == 200
    assert page(upstream, "no-such-project").status_code == 404


def test_conditional_requests_and_a_new_release(upstream):
    first = page(upstream, "idna", **JSON_ACCEPT)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert page(upstream, "idna", **JSON_ACCEPT, **{"If-None-Match": etag}).status_code == 304
    assert page(upstream, "idna", **{"If-Modified-Since": modified}).status_code == 304
    assert page(upstream, "idna", **{"If-None-Match": etag}).status_code == 200  # HTML differs
    upstream.catalog.add("idna", "3.8", requires_python=">=3.6")
    second = page(upstream, "idna", **JSON_ACCEPT, **{"If-None-Match": etag})
    assert second.status_code == 200
    assert second.json()["versions"] == ["3.7", "3.8"]
    assert second.headers["ETag"] != etag
    assert int(second.headers["X-PyPI-Last-Serial"]) > int(first.headers["X-PyPI-Last-Serial"])
    assert page(upstream, "idna", **{"If-Modified-Since": modified}).status_code == 200


def test_yank_at_runtime_shows_on_both_pages(upstream):
    upstream.catalog.yank("idna", "3.7", "broken build")
    assert page(upstream, "idna", **JSON_ACCEPT).json()["files"][0]["yanked"] == "broken build"
    assert 'data-yanked="broken build"' in page(upstream, "idna").text


# --- faults ----------------------------------------------------------------------------------
def test_reset_is_a_connection_error_once(upstream):
    wheel = file_of(upstream, "idna-3.7-py3-none-any.whl")
    fault = upstream.fault("/files/*", "reset", times=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(upstream.file_url(wheel), timeout=10)
    assert requests.get(upstream.file_url(wheel), timeout=10).content == wheel.read()
    assert fault.hits == 1


def test_truncated_body_fails_the_client(upstream):
    wheel = file_of(upstream, "requests-2.32.3-py3-none-any.whl")
    upstream.fault(wheel.filename, "truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(upstream.file_url(wheel), timeout=10)
    connection = http.client.HTTPConnection(upstream.files_host, upstream.port, timeout=10)
    connection.request("GET", wheel.url_path)
    response = connection.getresponse()
    assert int(response.headers["Content-Length"]) == wheel.size
    with pytest.raises(http.client.IncompleteRead) as broken:
        response.read()
    assert 0 < len(broken.value.partial) < wheel.size
    connection.close()


def test_corrupt_body_has_the_size_but_not_the_hash(upstream):
    wheel = file_of(upstream, "certifi-2024.7.4-py3-none-any.whl")
    upstream.fault("certifi-*.whl", "corrupt", times=1)
    response = requests.get(upstream.file_url(wheel), timeout=10)
    assert response.status_code == 200
    assert len(response.content) == wheel.size
    assert hashlib.sha256(response.content).hexdigest() != wheel.sha256


def test_status_faults_by_project_name_and_path(upstream):
    upstream.fault("requests", 503, times=1)
    upstream.fault("/simple/", "500")
    assert page(upstream, "requests").status_code == 503
    assert page(upstream, "requests").status_code == 200
    assert requests.get(upstream.index_url, timeout=10).status_code == 500
    upstream.clear_faults()
    assert requests.get(upstream.index_url, timeout=10).status_code == 200


def test_delay_outlasts_a_client_timeout(upstream):
    upstream.fault("idna", "delay", seconds=2, times=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(upstream.page_url("idna"), timeout=0.3)
    assert page(upstream, "idna").status_code == 200


def test_slow_body_lets_two_downloads_overlap(make_upstream):
    server = make_upstream()
    big = server.catalog.add("bigpkg", "1.0", payload=256 * 1024)
    fault = server.fault("bigpkg-*", "slow", chunk=32 * 1024, seconds=0.05)
    digests = []
    threads = [
        threading.Thread(target=lambda: digests.append(_sha256_of(server.file_url(big))))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert digests == [big.sha256, big.sha256]
    assert fault.hits == 2
    assert server.count(big.url_path) == 2


def _sha256_of(url: str) -> str:
    return hashlib.sha256(requests.get(url, timeout=30).content).hexdigest()


def test_restart_keeps_the_port(upstream):
    index_url = upstream.index_url
    upstream.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(index_url, timeout=5)
    upstream.restart()
    assert upstream.index_url == index_url
    assert requests.get(index_url, timeout=5).status_code == 200


# --- the project list and the catalog ----------------------------------------------------------
def test_project_list_streams_700000_names_in_json(upstream):
    upstream.set_name_list(700_000)
    with requests.get(upstream.index_url, headers=JSON_ACCEPT, stream=True, timeout=60) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        body = json.loads(response.raw.read())
    names = [entry["name"] for entry in body["projects"]]
    assert len(names) == 700_005
    assert names[:2] == ["certifi", "idna"]
    assert len({canonicalize_name(name) for name in names}) == len(names)


def test_project_list_streams_700000_names_in_html(upstream):
    upstream.set_name_list(700_000, seed=3)
    with requests.get(upstream.index_url, stream=True, timeout=60) as response:
        anchors = sum(line.count(b"<a href=") for line in response.iter_lines())
    assert anchors == 700_005


def test_generated_names_are_deterministic_and_lazy():
    names = generate_names(10**12)
    assert list(itertools.islice(names, 50)) == list(generate_names(50))
    assert list(generate_names(50, seed=1)) != list(generate_names(50))


def test_large_payload_wheel_is_a_real_wheel_on_disk(upstream):
    big = upstream.catalog.add("bigpkg", "2.0", payload=9 * 1024 * 1024, requires=["idna"])
    assert big.content is None
    assert big.path.stat().st_size == big.size
    served = requests.get(upstream.file_url(big), timeout=30).content
    assert hashlib.sha256(served).hexdigest() == big.sha256
    with zipfile.ZipFile(io.BytesIO(served)) as wheel:
        assert wheel.testzip() is None
        assert b"Requires-Dist: idna" in wheel.read("bigpkg-2.0.dist-info/METADATA")


def test_sdist_is_a_real_tarball(upstream):
    sdist = file_of(upstream, "requests-2.32.3.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(sdist.read())) as archive:
        names = archive.getnames()
        pkg_info = archive.extractfile("requests-2.32.3/PKG-INFO").read()
    assert "requests-2.32.3/pyproject.toml" in names
    assert b"Requires-Dist: certifi>=2017.4.17" in pkg_info
