"""The on-disk project list: normalised, sorted, unique, written atomically."""

from __future__ import annotations

import random

import pytest

from cheesecellar_mirror.namelist import count_names
from cheesecellar_mirror.namelist import iter_names
from cheesecellar_mirror.namelist import write_sorted_names


def test_names_are_normalised_sorted_and_unique(tmp_path):
    dest = tmp_path / "names.txt"
    names = ["Zope.Interface", "zope_interface", "Django", "a", "django", "B--c", "--", ""]
    assert write_sorted_names(names, dest) == 4
    assert dest.read_text() == "a\nb-c\ndjango\nzope-interface\n"
    assert list(iter_names(dest)) == ["a", "b-c", "django", "zope-interface"]
    assert count_names(dest) == 4


@pytest.mark.parametrize("chunk", [1, 3, 1000, 100_000])
def test_merge_across_chunks_equals_a_plain_sort(tmp_path, chunk):
    rng = random.Random(chunk)
    names = [f"Pkg_{rng.randrange(2000)}" for _ in range(3000)]
    dest = tmp_path / "names.txt"
    count = write_sorted_names(names, dest, chunk=chunk)
    expected = sorted({name.lower().replace("_", "-") for name in names})
    assert list(iter_names(dest)) == expected
    assert count == len(expected) == count_names(dest)


def test_empty_input_writes_an_empty_list(tmp_path):
    dest = tmp_path / "names.txt"
    assert write_sorted_names(iter(()), dest) == 0
    assert dest.read_bytes() == b""
    assert list(iter_names(dest)) == []


def test_a_failing_source_leaves_the_old_list_and_no_temp_files(tmp_path):
    dest = tmp_path / "names.txt"
    write_sorted_names(["old"], dest)

    def broken():
        yield from (f"n{i}" for i in range(50))
        raise ConnectionError("upstream went away")

    with pytest.raises(ConnectionError):
        write_sorted_names(broken(), dest, chunk=10)
    assert dest.read_text() == "old\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["names.txt"]


def test_replacing_keeps_readers_of_the_old_file_consistent(tmp_path):
    dest = tmp_path / "names.txt"
    write_sorted_names(["a", "b", "c"], dest)
    reader = iter_names(dest)
    assert next(reader) == "a"
    write_sorted_names(["x"], dest)
    assert list(reader) == ["b", "c"]
    assert list(iter_names(dest)) == ["x"]
