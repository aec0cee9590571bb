"""A mirror's project list: from upstream, kept on disk, merged with private names, cached."""

from __future__ import annotations

import dataclasses

import pytest
from distfiles import upload
from distfiles import wheel
from mirrorkit import HTML_ACCEPT
from mirrorkit import JSON_ACCEPT
from mirrorkit import Anchors
from mirrorkit import exact_requests
from mirrorkit import new_mirror
from mirrorkit import unique
from mirrorkit import user_index
from packaging.utils import canonicalize_name
from tests.upstream.names import list_entries

GENERATED = 5000


def json_names(mirror) -> list[str]:
    reply = mirror.names()
    assert reply.status_code == 200, reply.text
    return [entry["name"] for entry in reply.json()["projects"]]


def upstream_names(upstream) -> list[str]:
    """What the upstream lists, normalised and sorted: what the mirror should list."""
    known = [(project.name, project.serial) for project in upstream.catalog.projects()]
    generated, seed = upstream.name_list
    return sorted({canonicalize_name(name) for name, _ in list_entries(known, generated, seed)})


def list_requests(upstream) -> int:
    return exact_requests(upstream, "/simple/")


@pytest.mark.parametrize("mode", ["json", "html"])
def test_the_list_comes_from_upstream_normalised_and_sorted(shared, make_upstream, mode):
    upstream = make_upstream(mode=mode)
    upstream.set_name_list(GENERATED)
    mirror = new_mirror(*shared, upstream)
    expected = upstream_names(upstream)
    assert len(expected) > GENERATED
    assert any(name != canonicalize_name(name) for name, _ in list_entries([], GENERATED, 0))
    assert json_names(mirror) == expected
    html = mirror.names(**HTML_ACCEPT)
    assert html.status_code == 200
    anchors = Anchors(html.text).found
    assert list(anchors) == expected
    assert anchors["requests"]["href"] == "requests/"
    assert list_requests(upstream) == 1


def test_the_list_has_an_etag_and_answers_304(mirror, upstream):
    upstream.set_name_list(100)
    etag = mirror.names().headers["ETag"]
    again = mirror.names(**JSON_ACCEPT, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_a_user_index_lists_private_names_among_the_mirrored(mirror, upstream):
    upstream.set_name_list(300)
    index = f"{unique('alice')}/dev"
    auth = user_index(mirror.live, index, bases=mirror.index)
    for name in ("Zzz_Private", "aaa.private"):
        upload(f"{mirror.live.url}/{index}/", wheel(name, "1.0"), auth).raise_for_status()
    names = json_names(dataclasses.replace(mirror, index=index))
    assert names == sorted([*upstream_names(upstream), "aaa-private", "zzz-private"])
    assert upstream.count("/simple/aaa") == upstream.count("/simple/zzz") == 0


def test_no_project_list_lists_the_cached_projects(shared, upstream):
    upstream.set_name_list(300)
    mirror = new_mirror(*shared, upstream, mirror_no_project_list=True)
    assert json_names(mirror) == []
    mirror.json_page("requests")
    mirror.json_page("idna")
    assert json_names(mirror) == ["idna", "requests"]
    assert list_requests(upstream) == 0


def test_a_failing_list_serves_the_names_already_known(shared, upstream, caplog):
    upstream.set_name_list(300)
    mirror = new_mirror(*shared, upstream, mirror_cache_expiry=0)
    known = json_names(mirror)
    # A changed list (a 200, not a 304), long enough for the fault to cut it short.
    upstream.set_name_list(GENERATED)
    upstream.fault("/simple/", 500)
    assert json_names(mirror) == known
    upstream.clear_faults()
    upstream.fault("/simple/", "truncate", fraction=0.5)
    assert json_names(mirror) == known
    assert caplog.text.count("failed, using what is cached") == 2
    upstream.clear_faults()
    assert len(json_names(mirror)) > len(known)


def test_without_any_list_the_cached_projects_are_listed(mirror, upstream):
    upstream.fault("/simple/", 503)
    mirror.json_page("certifi")
    assert json_names(mirror) == ["certifi"]
    assert list_requests(upstream) >= 1
