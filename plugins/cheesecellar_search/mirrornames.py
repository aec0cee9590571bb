"""Mirror project names found by name, at query time, from what the mirror has stored.

Nothing is indexed: a mirror's stored project list (sorted, normalised, one name per
line) is mapped into memory the first time a search needs it, and kept while the stored
list stays the same. Exact and prefix matches come from a binary search; substring
matches from a byte search over the mapping, stopped once enough are found. Upstream is
never asked: without a stored list, only the names of cached project pages are searched.
"""

from __future__ import annotations

import dataclasses
import mmap
import threading

from cheesecellar.model import keys

#: Names returned per mirror index for one query.
LIMIT = 20
#: Substring matches collected before the shortest are kept.
SUBSTRING_POOL = 4 * LIMIT


@dataclasses.dataclass(frozen=True)
class NameMatch:
    name: str
    how: str  # "exact", "prefix" or "substring"


class SortedNames:
    """A sorted list of names, one per line, in a bytes-like buffer (an mmap or bytes)."""

    def __init__(self, buffer) -> None:
        self.buf = buffer

    def _line_at(self, start: int) -> tuple[bytes, int]:
        end = self.buf.find(b"\n", start)
        if end < 0:
            end = len(self.buf)
        return self.buf[start:end], end

    def lower_bound(self, word: bytes) -> int:
        """Offset of the first line that sorts at or after ``word``."""
        lo, hi = 0, len(self.buf)
        while lo < hi:
            mid = (lo + hi) // 2
            start = self.buf.rfind(b"\n", 0, mid) + 1
            line, end = self._line_at(start)
            if line < word:
                lo = end + 1
            else:
                hi = start
        return lo

    def starting_with(self, word: bytes, limit: int) -> list[bytes]:
        found: list[bytes] = []
        pos = self.lower_bound(word)
        while pos < len(self.buf) and len(found) < limit:
            line, end = self._line_at(pos)
            if not line.startswith(word):
                break
            found.append(line)
            pos = end + 1
        return found

    def containing(self, word: bytes, limit: int) -> list[bytes]:
        """Names that contain ``word`` after their first character, in file order."""
        found: list[bytes] = []
        pos = self.buf.find(word, 1)
        while pos >= 0 and len(found) < limit:
            start = self.buf.rfind(b"\n", 0, pos) + 1
            line, end = self._line_at(start)
            if start != pos:
                found.append(line)
            pos = self.buf.find(word, end + 1)
        return found


def match_words(
    names: SortedNames, words: tuple[str, ...], exact: str | None, all_words: bool = False
) -> list[NameMatch]:
    """Exact names first, then names that start with a word (shortest first), then
    names that contain one (shortest first); at most :data:`LIMIT`. With ``all_words``,
    a name other than ``exact`` must contain every word."""
    exact_found: dict[str, None] = {}
    prefixed: dict[str, None] = {}
    contained: dict[str, None] = {}
    wanted = [exact] if exact else []
    for word in (*wanted, *words):
        stem = word.rstrip("*").encode()
        for line in names.starting_with(stem, LIMIT + 1):
            text = line.decode("utf-8", "replace")
            if line == stem and not word.endswith("*"):
                exact_found[text] = None
            else:
                prefixed[text] = None
        if not word.endswith("*"):
            for line in names.containing(stem, SUBSTRING_POOL):
                contained[line.decode("utf-8", "replace")] = None
    ordered = [NameMatch(n, "exact") for n in exact_found]
    ordered += [NameMatch(n, "prefix") for n in _shortest(prefixed, exact_found)]
    ordered += [NameMatch(n, "substring") for n in _shortest(contained, exact_found, prefixed)]
    if all_words and len(words) > 1:
        stems = [word.rstrip("*") for word in words]
        ordered = [m for m in ordered if m.name == exact or all(s in m.name for s in stems)]
    return ordered[:LIMIT]


def _shortest(names: dict, *seen: dict) -> list[str]:
    return sorted((n for n in names if not any(n in s for s in seen)), key=lambda n: (len(n), n))


class MirrorNames:
    """The stored name lists of a server's mirror indexes, mapped on first use."""

    def __init__(self, storage) -> None:
        self.storage = storage
        self._mapped: dict[str, tuple[str, SortedNames]] = {}
        self._lock = threading.Lock()

    def lookup(
        self, tx, indexname: str, config: dict, words, exact, all_words: bool = False
    ) -> list[NameMatch]:
        if not words and not exact:
            return []
        names = self.names_of(tx, indexname, config)
        return [] if names is None else match_words(names, tuple(words), exact, all_words)

    def names_of(self, tx, indexname: str, config: dict) -> SortedNames | None:
        record = None
        if not config.get("mirror_no_project_list"):
            record = tx.get(keys.mirror_list(indexname))
        if not isinstance(record, dict) or "relpath" not in record:
            return self._cached_pages(tx, indexname)
        identity = record.get("sha256") or record["relpath"]
        known = self._mapped.get(indexname)
        if known is not None and known[0] == identity:
            return known[1]
        with self._lock:
            known = self._mapped.get(indexname)
            if known is None or known[0] != identity:
                # The old mapping is dropped, not closed: a search may still be reading it.
                known = (identity, SortedNames(self._map(record["relpath"])))
                self._mapped[indexname] = known
        return known[1]

    def _map(self, relpath: str):
        try:
            with self.storage.open_file(relpath) as fp:
                try:
                    return mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError, AttributeError):  # not a file on disk, or empty
                    return fp.read()
        except FileNotFoundError:
            return b""

    def _cached_pages(self, tx, indexname: str) -> SortedNames | None:
        prefix = keys.mirror_pages_prefix(indexname)
        names = [key[len(prefix) :] for key in tx.keys(prefix)]
        if not names:
            return None
        names.sort()
        return SortedNames(("\n".join(names) + "\n").encode())

    def mapped(self) -> int:
        """Bytes of name lists mapped now (for the status)."""
        return sum(len(names.buf) for _identity, names in self._mapped.values())
