"""Whoosh hits and mirror names as :class:`~cheesecellar.search.SearchHit` objects."""

from __future__ import annotations

import re
from urllib.parse import quote

from cheesecellar.search import Fragment
from cheesecellar.search import SearchHit

#: Characters of a stored text that are looked at for matches.
CHARLIMIT = 20_000
#: Characters of context on each side of a match, and the longest fragment.
SURROUND, MAXCHARS = 60, 240
#: Fields whose matches are shown, per kind of hit, with how many fragments each.
FRAGMENT_FIELDS = {
    "project": (("summary", 1), ("description", 2)),
    "doc": (("text", 2),),
}


def _pattern(words: set[str]) -> re.Pattern:
    # Indexed words are stemmed ("pars" for "parser"): mark each word that starts with one.
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\w*", re.IGNORECASE)


def _parts(text: str, matches: list, start: int, end: int) -> Fragment:
    parts, index = [], start
    for match in matches:
        parts += [text[index : match.start()], match.group()]
        index = match.end()
    parts.append(text[index:end])
    return Fragment(tuple(parts))


def _window(text: str, matches: list) -> tuple[int, int, list]:
    """The fragment around ``matches[0]``: its start, end and the matches inside."""
    first = matches[0]
    start = max(0, first.start() - SURROUND)
    if start:
        start = text.find(" ", start, first.start()) + 1
    inside = [first]
    for match in matches[1:]:
        if match.end() - start > MAXCHARS:
            break
        inside.append(match)
    end = min(len(text), inside[-1].end() + SURROUND)
    if end < len(text):
        space = text.rfind(" ", inside[-1].end(), end)
        end = space if space > 0 else end
    return start, end, inside


def highlight(text: str, words: set[str], top: int, whole: bool = False) -> list[Fragment]:
    """Up to ``top`` fragments of ``text`` marking the words that start with one of
    ``words`` (the whole text as one fragment with ``whole``)."""
    if not words or not text:
        return []
    matches = list(_pattern(words).finditer(text, 0, CHARLIMIT))
    if whole and matches:
        return [_parts(text, matches, 0, len(text))]
    found = []
    while matches and len(found) < top:
        start, end, inside = _window(text, matches)
        found.append(_parts(text, inside, start, end))
        matches = matches[len(inside) :]
    return found


def fragments_of(hit, kind: str) -> tuple[Fragment, ...]:
    """The matched parts of the hit's stored texts (only fragments with a match)."""
    matched: dict[str, set[str]] = {}
    for field, term in hit.matched_terms():
        matched.setdefault(field, set()).add(term.decode("utf-8", "replace"))
    found: list[Fragment] = []
    for field, top in FRAGMENT_FIELDS.get(kind, ()):
        words = matched.get(field)
        if words and hit.get(field):
            found.extend(highlight(hit[field], words, top, whole=field == "summary"))
    return tuple(found)


def whoosh_hit(hit) -> SearchHit:
    kind = hit["kind"]
    indexname, project, version = hit["index"], hit["project"], hit.get("version")
    user, _, index = indexname.partition("/")
    if kind == "doc":
        path = f"/{indexname}/{project}/{version}/+doc/{quote(hit['path'])}"
        title = hit.get("title") or hit["path"]
        summary = f"{hit.get('display') or project} {version} documentation"
    else:
        path = f"/{indexname}/{project}/{version}"
        title = hit.get("display") or project
        summary = hit.get("summary") or ""
    return SearchHit(
        kind=kind,
        user=user,
        index=index,
        project=project,
        version=version,
        path=path,
        title=title,
        summary=summary,
        score=round(float(hit.score or 0.0), 4),
        fragments=fragments_of(hit, kind),
    )


def mirror_hit(indexname: str, name: str, how: str) -> SearchHit:
    user, _, index = indexname.partition("/")
    return SearchHit(
        kind="mirror",
        user=user,
        index=index,
        project=name,
        version=None,
        path=f"/{indexname}/{name}",
        title=name,
        summary=f"{how} name match on mirror {indexname}",
    )
