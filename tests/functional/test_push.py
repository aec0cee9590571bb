"""Push of a release from one index to another on the same server (``PUSH /{u}/{i}``)."""

from __future__ import annotations

import hashlib
import itertools

import pytest
import requests
from distfiles import doczip
from distfiles import post_form
from distfiles import sdist
from distfiles import upload
from distfiles import wheel

PIA = ("pia", "piapw")
QUENTIN = ("quentin", "quentinpw")
ROCKET_WHEEL = wheel("rocket", "1.0", summary="goes up", requires_python=">=3.9")
ROCKET_SDIST = sdist("rocket", "1.0", summary="goes up", requires_python=">=3.9")
DOCS = doczip()
_numbers = itertools.count()


@pytest.fixture(scope="module")
def hosting(server):
    """pia/dev holds rocket 1.0 (wheel, sdist, docs), docless 1.0, docsonly 1.0 and
    metaonly 2.0 (metadata without files); pia/child inherits pia/dev."""
    with server.session() as session:
        for user, password in (PIA, QUENTIN):
            session.put(f"/{user}", json={"password": password}).raise_for_status()
        session.login(*PIA)
        session.put("/pia/dev", json={}).raise_for_status()
        session.put("/pia/child", json={"bases": ["pia/dev"]}).raise_for_status()
    dev = f"{server.url}/pia/dev/"
    for dist in (ROCKET_WHEEL, ROCKET_SDIST, wheel("docless", "1.0")):
        assert upload(dev, dist, PIA).status_code == 200
    for name in ("rocket", "docsonly"):
        fields = {":action": "doc_upload", "name": name, "version": "1.0"}
        files = {"content": (f"{name}-1.0.doc.zip", DOCS)}
        assert post_form(dev, fields, PIA, files).status_code == 200
    fields = {":action": "submit", "name": "metaonly", "version": "2.0"}
    assert post_form(dev, fields, PIA).status_code == 200
    return server


@pytest.fixture
def pia(hosting):
    with hosting.session() as session:
        session.login(*PIA)
        yield session


@pytest.fixture
def quentin(hosting):
    with hosting.session() as session:
        session.login(*QUENTIN)
        yield session


def new_index(session, user: str, **config) -> str:
    """A new index of ``user`` (``session`` logged in as them) with a name of its own."""
    name = f"{user}/target{next(_numbers)}"
    session.put(f"/{name}", json=config).raise_for_status()
    return name


def push(session, target: str, source: str = "pia/dev", method: str = "PUSH", **body):
    body = {"name": "rocket", "version": "1.0", "targetindex": target, **body}
    return session.request(method, f"/{source}", json=body)


def versiondata(session, index: str, project: str = "rocket", version: str = "1.0") -> dict:
    reply = session.get(f"/{index}/{project}/{version}")
    assert reply.status_code == 200, reply.text
    return reply.json()["result"]


def links(verdata: dict) -> dict[str, dict]:
    """``+links`` by file name."""
    return {link["href"].rsplit("/", 1)[1]: link for link in verdata["+links"]}


def serial(server) -> int:
    return int(requests.get(server.url + "/+api").headers["X-Devpi-Serial"])


def relpath(index: str, dist) -> str:
    sha = dist.sha256
    return f"{index}/+f/{sha[:3]}/{sha[3:16]}/{dist.filename}"


def simple_hashes(server, index: str) -> dict[str, str]:
    """File name to sha256 on the PEP 691 page of rocket in ``index``."""
    reply = requests.get(
        f"{server.url}/{index}/+simple/rocket/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    assert reply.status_code == 200, reply.text
    return {f["filename"]: f["hashes"]["sha256"] for f in reply.json()["files"]}


def assert_refused(server, reply, status: int, message: str, before: int) -> None:
    assert reply.status_code == status, reply.text
    assert reply.json() == {"message": message}
    assert serial(server) == before


# --- pushing -------------------------------------------------------------------------------


def test_push_copies_files_docs_and_metadata(pia):
    target = new_index(pia, "pia")
    reply = push(pia, target)
    assert reply.status_code == 200, reply.text
    docs = next(link for link in versiondata(pia, "pia/dev")["+links"] if link["rel"] == "doczip")
    assert reply.json() == {
        "type": "actionlog",
        "result": [
            [200, "register", "rocket", "1.0", "->", target],
            [200, "store_releasefile", relpath(target, ROCKET_WHEEL)],
            [200, "store_releasefile", relpath(target, ROCKET_SDIST)],
            [200, "store_doczip", "rocket", "1.0", "->", target],
        ],
    }
    pushed = versiondata(pia, target)
    assert pushed["summary"] == "goes up"
    assert pushed["requires_python"] == ">=3.9"
    assert set(links(pushed)) == {
        ROCKET_WHEEL.filename,
        ROCKET_SDIST.filename,
        "rocket-1.0.doc.zip",
    }
    assert links(pushed)["rocket-1.0.doc.zip"]["hashes"] == docs["hashes"]


def test_pushed_files_keep_hash_paths_time_and_history(pia):
    target = new_index(pia, "pia")
    assert push(pia, target).status_code == 200
    source = links(versiondata(pia, "pia/dev"))
    pushed = links(versiondata(pia, target))
    for filename, link in pushed.items():
        origin = source[filename]
        assert link["href"] == origin["href"].replace("/pia/dev/", f"/{target}/")
        assert link["hashes"] == origin["hashes"]
        assert link["upload_time"] == origin["upload_time"]
        assert link["log"][:-1] == origin["log"]
        assert link["log"][-1]["what"] == "push"
        assert link["log"][-1]["who"] == "pia"
        assert link["log"][-1]["src"] == "pia/dev"
        assert link["log"][-1]["dst"] == target
        assert len(link["log"][-1]["when"]) == 6


def test_pushed_files_are_served_and_listed_on_the_simple_page(pia, hosting):
    target = new_index(pia, "pia")
    assert push(pia, target).status_code == 200
    for dist in (ROCKET_WHEEL, ROCKET_SDIST):
        reply = requests.get(f"{hosting.url}/{relpath(target, dist)}")
        assert reply.status_code == 200
        assert reply.content == dist.content
    metadata = requests.get(f"{hosting.url}/{relpath(target, ROCKET_WHEEL)}.metadata")
    assert metadata.status_code == 200
    assert metadata.content == ROCKET_WHEEL.metadata
    page = requests.get(
        f"{hosting.url}/{target}/+simple/rocket/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    ).json()
    files = {f["filename"]: f for f in page["files"]}
    assert set(files) == {ROCKET_WHEEL.filename, ROCKET_SDIST.filename}
    assert files[ROCKET_WHEEL.filename]["hashes"] == {"sha256": ROCKET_WHEEL.sha256}
    assert files[ROCKET_SDIST.filename]["hashes"] == {"sha256": ROCKET_SDIST.sha256}
    metadata_hash = hashlib.sha256(ROCKET_WHEEL.metadata).hexdigest()
    assert files[ROCKET_WHEEL.filename]["core-metadata"] == {"sha256": metadata_hash}
    assert files[ROCKET_WHEEL.filename]["url"].endswith(
        ROCKET_WHEEL.sha256[3:16] + "/" + ROCKET_WHEEL.filename
    )


def test_json_post_without_action_is_a_push(pia):
    target = new_index(pia, "pia")
    reply = push(pia, target, method="POST")
    assert reply.status_code == 200, reply.text
    assert reply.json()["type"] == "actionlog"
    assert set(links(versiondata(pia, target))) >= {ROCKET_WHEEL.filename}


def test_push_leaves_the_source_as_it_was(pia):
    before = versiondata(pia, "pia/dev")
    assert push(pia, new_index(pia, "pia")).status_code == 200
    assert versiondata(pia, "pia/dev") == before


def test_no_docs_pushes_only_release_files(pia):
    target = new_index(pia, "pia")
    reply = push(pia, target, no_docs=True)
    assert reply.status_code == 200, reply.text
    assert [action[1] for action in reply.json()["result"]] == [
        "register", "store_releasefile", "store_releasefile",
    ]  # fmt: skip
    assert set(links(versiondata(pia, target))) == {ROCKET_WHEEL.filename, ROCKET_SDIST.filename}


def test_only_docs_pushes_only_the_doc_zip(pia):
    target = new_index(pia, "pia")
    reply = push(pia, target, only_docs=True)
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == [
        [200, "register", "rocket", "1.0", "->", target],
        [200, "store_doczip", "rocket", "1.0", "->", target],
    ]
    assert set(links(versiondata(pia, target))) == {"rocket-1.0.doc.zip"}


def test_nothing_left_to_push_is_404(pia, hosting):
    target = new_index(pia, "pia")
    before = serial(hosting)
    for name, options in (("docless", {"only_docs": True}), ("docsonly", {"no_docs": True})):
        reply = push(pia, target, name=name, **options)
        assert_refused(hosting, reply, 404, f"no release/files found for {name} 1.0", before)
    reply = push(pia, target, name="metaonly", version="2.0")
    assert_refused(hosting, reply, 404, "no release/files found for metaonly 2.0", before)


# --- permissions ---------------------------------------------------------------------------


def test_pushing_to_another_users_index_needs_acl_upload(pia, quentin, hosting):
    target = new_index(quentin, "quentin")
    before = serial(hosting)
    reply = push(pia, target)
    assert_refused(hosting, reply, 401, f"user 'pia' cannot upload to '{target}'", before)
    quentin.patch(f"/{target}", json=["acl_upload+=pia"]).raise_for_status()
    reply = push(pia, target)
    assert reply.status_code == 200, reply.text
    assert set(links(versiondata(pia, target))) >= {ROCKET_WHEEL.filename}


def test_anyone_may_push_from_an_index_they_can_read(quentin):
    target = new_index(quentin, "quentin")
    reply = push(quentin, target)
    assert reply.status_code == 200, reply.text
    assert links(versiondata(quentin, target))[ROCKET_WHEEL.filename]["log"][-1]["who"] == "quentin"


def test_anonymous_push_is_401(pia, hosting):
    target = new_index(pia, "pia")
    before = serial(hosting)
    with hosting.session() as anon:
        reply = push(anon, target)
    assert_refused(hosting, reply, 401, f"anonymous user cannot upload to '{target}'", before)


def test_push_to_a_mirror_is_refused(hosting):
    with hosting.session() as root:
        root.login("root", "")
        root.put("/root/pushmirror", json={"type": "mirror"}).raise_for_status()
        before = serial(hosting)
        reply = push(root, "root/pushmirror")
    assert_refused(hosting, reply, 400, "cannot push to mirror index root/pushmirror", before)


# --- volatile and non-volatile targets -----------------------------------------------------


def test_non_volatile_target_refuses_existing_files_even_identical(pia, hosting):
    target = new_index(pia, "pia", volatile=False)
    assert push(pia, target).status_code == 200
    before = serial(hosting)
    reply = push(pia, target)
    message = f"{ROCKET_WHEEL.filename} already exists in non-volatile index"
    assert_refused(hosting, reply, 409, message, before)


def test_a_refused_push_stores_nothing(pia, hosting):
    target = new_index(pia, "pia", volatile=False)
    assert upload(f"{hosting.url}/{target}/", ROCKET_SDIST, PIA).status_code == 200
    before = serial(hosting)
    reply = push(pia, target)
    message = f"{ROCKET_SDIST.filename} already exists in non-volatile index"
    assert_refused(hosting, reply, 409, message, before)
    assert set(links(versiondata(pia, target))) == {ROCKET_SDIST.filename}
    assert requests.get(f"{hosting.url}/{relpath(target, ROCKET_WHEEL)}").status_code == 404


def test_volatile_target_takes_a_push_over_a_different_file(pia, hosting):
    target = new_index(pia, "pia")
    other = wheel("rocket", "1.0", payload=b"VALUE = 2\n")
    assert other.filename == ROCKET_WHEEL.filename
    assert upload(f"{hosting.url}/{target}/", other, PIA).status_code == 200
    assert simple_hashes(hosting, target) == {other.filename: other.sha256}
    assert push(pia, target).status_code == 200
    link = links(versiondata(pia, target))[ROCKET_WHEEL.filename]
    assert link["hashes"] == {"sha256": ROCKET_WHEEL.sha256}
    assert simple_hashes(hosting, target) == {
        ROCKET_WHEEL.filename: ROCKET_WHEEL.sha256,
        ROCKET_SDIST.filename: ROCKET_SDIST.sha256,
    }
    assert requests.get(f"{hosting.url}/{relpath(target, other)}").status_code == 404


def test_repeated_push_to_a_volatile_target_changes_nothing(pia, hosting):
    target = new_index(pia, "pia")
    assert push(pia, target).status_code == 200
    before, data = serial(hosting), versiondata(pia, target)
    reply = push(pia, target)
    assert reply.status_code == 200, reply.text
    assert serial(hosting) == before
    assert versiondata(pia, target) == data


# --- what cannot be pushed -----------------------------------------------------------------


def test_unknown_release_is_404(pia, hosting):
    target = new_index(pia, "pia")
    before = serial(hosting)
    reply = push(pia, target, version="9.0")
    message = "there are no files for rocket 9.0 on stage pia/dev"
    assert_refused(hosting, reply, 404, message, before)
    reply = push(pia, target, name="nothing")
    message = "there are no files for nothing 1.0 on stage pia/dev"
    assert_refused(hosting, reply, 404, message, before)


def test_only_the_source_index_itself_is_pushed_not_its_bases(pia, hosting):
    target = new_index(pia, "pia")
    before = serial(hosting)
    reply = push(pia, target, source="pia/child")
    message = "there are no files for rocket 1.0 on stage pia/child"
    assert_refused(hosting, reply, 404, message, before)


def test_unknown_indexes_are_404(pia, hosting):
    before = serial(hosting)
    reply = push(pia, "pia/nowhere")
    assert_refused(hosting, reply, 404, "index pia/nowhere does not exist", before)
    reply = push(pia, "pia/dev", source="pia/nosource")
    assert_refused(hosting, reply, 404, "index pia/nosource does not exist", before)


NAME_NEEDED = "a push needs the project 'name' as a non-empty string"
VERSION_NEEDED = "a push needs the 'version' as a non-empty string"
BAD_TARGET = "targetindex not in format user/index"
GOOD_BODY = {"name": "rocket", "version": "1.0", "targetindex": "pia/dev"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": None}, NAME_NEEDED),
        ({"name": ["rocket"]}, NAME_NEEDED),
        ({"name": " "}, NAME_NEEDED),
        ({"version": None}, VERSION_NEEDED),
        ({"version": 1.0}, VERSION_NEEDED),
        ({"targetindex": None}, BAD_TARGET),
        ({"targetindex": "pia"}, BAD_TARGET),
        ({"targetindex": "pia/a/b"}, BAD_TARGET),
        ({"targetindex": "/dev"}, BAD_TARGET),
        ({"targetindex": 7}, BAD_TARGET),
        ({"foo": 1, "bar": 2}, "unknown additional options: bar, foo"),
        ({"no_docs": True, "only_docs": True}, "can't use 'no_docs' and 'only_docs' together"),
        ({"no_docs": "yes"}, "'no_docs' and 'only_docs' must be true or false"),
    ],
)
def test_bad_bodies_are_400(pia, hosting, changes, message):
    body = {k: v for k, v in {**GOOD_BODY, **changes}.items() if v is not None}
    before = serial(hosting)
    reply = pia.request("PUSH", "/pia/dev", json=body)
    assert_refused(hosting, reply, 400, message, before)


@pytest.mark.parametrize("body", [[GOOD_BODY], "rocket", 1, None])
def test_bodies_that_are_not_objects_are_400(pia, hosting, body):
    before = serial(hosting)
    reply = pia.request("PUSH", "/pia/dev", json=body)
    assert_refused(hosting, reply, 400, "a push body must be a JSON object", before)


def test_garbage_and_forms_without_action_are_400(pia, hosting):
    before = serial(hosting)
    reply = pia.request("PUSH", "/pia/dev", data=b"\x00not json{")
    assert_refused(hosting, reply, 400, "Bad request: could not decode json", before)
    form = {"name": (None, "rocket"), "version": (None, "1.0")}
    reply = pia.post("/pia/dev/", files=form, headers={"Content-Type": None})
    assert_refused(hosting, reply, 400, "Bad request: could not decode json", before)


def test_push_to_an_external_repository_is_not_supported(pia, hosting):
    before = serial(hosting)
    body = {
        "name": "rocket", "version": "1.0", "posturl": "https://upload.example.org/legacy/",
        "username": "pia", "password": "secret",
    }  # fmt: skip
    reply = pia.request("PUSH", "/pia/dev", json=body)
    assert reply.status_code == 400
    assert "external repository" in reply.json()["message"]
    assert "not supported" in reply.json()["message"]
    assert serial(hosting) == before
