"""Mirror name lookup over a sorted name list: the binary search and the byte scan."""

from __future__ import annotations

import mmap
import random

import pytest

from cheesecellar_search.mirrornames import LIMIT
from cheesecellar_search.mirrornames import SortedNames
from cheesecellar_search.mirrornames import match_words


def names_buffer(names: list[str]) -> bytes:
    return ("\n".join(sorted(set(names))) + "\n").encode()


@pytest.fixture(scope="module")
def names() -> list[str]:
    rng = random.Random(7)
    parts = ["py", "flask", "django", "json", "parser", "a", "zz", "web", "x"]
    found = {"-".join(rng.choices(parts, k=rng.randint(1, 3))) for _ in range(3000)}
    return sorted(found | {"flask", "aaa", "zzzz"})


@pytest.mark.parametrize("word", ["", "a", "aaa", "flask", "flask-", "py-json", "zzzzz", "~"])
def test_lower_bound_finds_the_first_line_not_below_the_word(names, word):
    buffer = names_buffer(names)
    offset = SortedNames(buffer).lower_bound(word.encode())
    expected = next((i for i, name in enumerate(names) if name >= word), len(names))
    assert offset == sum(len(name) + 1 for name in names[:expected])


def test_prefix_and_substring_agree_with_brute_force(names):
    sorted_names = SortedNames(names_buffer(names))
    for word in ("flask", "json-p", "web", "zz"):
        starting = [n.decode() for n in sorted_names.starting_with(word.encode(), 10_000)]
        assert starting == [n for n in names if n.startswith(word)]
        inside = [n.decode() for n in sorted_names.containing(word.encode(), 10_000)]
        assert inside == [n for n in names if word in n[1:] and not n.startswith(word)]


def test_exact_first_then_prefix_then_substring_bounded(names):
    found = match_words(SortedNames(names_buffer(names)), ("flask",), "flask")
    assert found[0].name == "flask" and found[0].how == "exact"
    hows = [match.how for match in found]
    assert hows == sorted(hows, key=["exact", "prefix", "substring"].index)
    assert len(found) == LIMIT
    assert all("flask" in match.name for match in found)


def test_every_word_must_be_in_a_name_when_asked(names):
    found = match_words(SortedNames(names_buffer(names)), ("json", "web"), None, all_words=True)
    assert found and all("json" in m.name and "web" in m.name for m in found)


def test_a_star_asks_for_prefixes_only(names):
    found = match_words(SortedNames(names_buffer(names)), ("fla*",), None)
    assert found and all(m.name.startswith("fla") and m.how == "prefix" for m in found)


def test_works_over_an_mmap_and_an_empty_list(tmp_path, names):
    path = tmp_path / "names.txt"
    path.write_bytes(names_buffer(names))
    with open(path, "rb") as fp:
        mapped = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ)
    assert match_words(SortedNames(mapped), ("django",), "django")[0].name.startswith("django")
    assert match_words(SortedNames(b""), ("django",), "django") == []
