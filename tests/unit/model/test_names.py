"""Project name normalisation and the user and index name rules."""

from __future__ import annotations

import pytest

from cheesecellar.errors import BadRequest
from cheesecellar.model.names import check_name
from cheesecellar.model.names import normalize_name


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("Hello_World", "hello-world"),
        ("hello.world", "hello-world"),
        ("hello--__..world", "hello-world"),
        ("zope.interface", "zope-interface"),
        ("Django", "django"),
        ("pkg+extra", "pkg-extra"),
        ("already-normal", "already-normal"),
    ],
)
def test_normalize_name(name, normalized):
    assert normalize_name(name) == normalized


@pytest.mark.parametrize("name", ["alice", "Alice", "a.b-c_d", "emilie@example.com", "x" * 255])
def test_valid_names_are_returned(name):
    assert check_name("user", name) == name


def test_forbidden_character_message_is_devpis():
    with pytest.raises(BadRequest) as excinfo:
        check_name("user", "ca rl")
    assert excinfo.value.status == 400
    assert excinfo.value.message == (
        "username 'ca rl' contains characters that aren't allowed. "
        "Any ascii symbol besides -.@_ is blocked."
    )


def test_index_name_message_names_the_kind():
    with pytest.raises(BadRequest, match=r"^indexname 'a b' contains characters"):
        check_name("index", "a b")


@pytest.mark.parametrize(
    "name", ["a/b", "a:b", "a\\b", "a\tb", "a\x00b", "a$b", "a#b", "a?b", "a%b", "+api"]
)
def test_forbidden_names(name):
    with pytest.raises(BadRequest, match="aren't allowed"):
        check_name("user", name)


def test_empty_and_overlong_names():
    with pytest.raises(BadRequest, match="empty"):
        check_name("user", "")
    with pytest.raises(BadRequest, match="longer than 255"):
        check_name("index", "x" * 256)


@pytest.mark.parametrize("name", [".", "..", ".tmp", ".hidden"])
def test_names_starting_with_a_dot_are_refused(name):
    """They would name directories of the file tree ("..", the store's ".tmp")."""
    with pytest.raises(BadRequest, match=r"must not start with '\.'"):
        check_name("user", name)
