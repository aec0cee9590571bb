"""Query text to a whoosh query: whoosh's language, checked so that bad input gets a 400.

Words are AND-ed: a document must contain every word, each in any of the searched fields,
and the scores of the fields a word matches add up (a word in the name counts most);
``OR``, ``NOT``, ``field:term``, quotes and ``prefix*`` work as whoosh defines them. A
query that looks like a project name also matches ``name_exact``, so the project of
exactly that name ranks first.
"""

from __future__ import annotations

import dataclasses
import re

from whoosh import qparser
from whoosh import query as wq

from cheesecellar.model.names import normalize_name
from cheesecellar.search import SearchQueryError
from cheesecellar_search.schema import EXACT_NAME_BOOST
from cheesecellar_search.schema import FIELD_BOOSTS
from cheesecellar_search.schema import QUERY_FIELDS

MAX_QUERY = 1_000
MAX_TERMS = 40
#: Words a wildcard may stand for; more make the query too broad to answer quickly.
MAX_EXPANSION = 1_000
MIN_WILDCARD_PREFIX = 2
#: Plain words and names: letters, digits, ``.``, ``_`` and ``-``.
_WORD = re.compile(r"[^\W_][\w.-]*\*?$")
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"})
_FIELD = re.compile(r"(?:^|[\s(])([A-Za-z_]\w*):(?!//)")
_QUOTED = re.compile(r'"[^"]*"?')


@dataclasses.dataclass(frozen=True)
class ParsedQuery:
    text: str
    query: wq.Query
    #: Normalised plain words (``flask``, ``zope-interface``) for looking up mirror names;
    #: a trailing ``*`` is kept to ask for a prefix.
    words: tuple[str, ...]
    #: Whether a name must contain every word (no ``OR`` in the query).
    all_words: bool
    #: The project name the whole query spells, if it is a plain name.
    exact: str | None


def make_parser(schema) -> qparser.QueryParser:
    # AND: every word must be found (in any field); "OR" and "NOT" work as people expect.
    return qparser.MultifieldParser(
        list(FIELD_BOOSTS), schema, fieldboosts=FIELD_BOOSTS, group=qparser.AndGroup
    )


def check_text(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise SearchQueryError("the search query is empty: type a word to look for")
    if len(text) > MAX_QUERY:
        raise SearchQueryError(f"the search query is longer than {MAX_QUERY} characters")
    if "\x00" in text:
        raise SearchQueryError("the search query contains a NUL character")
    return text.strip()


def _check_fields(text: str) -> None:
    unquoted = _QUOTED.sub(" ", text)
    for name in _FIELD.findall(unquoted):
        if name not in QUERY_FIELDS:
            known = ", ".join(QUERY_FIELDS)
            raise SearchQueryError(f"unknown field {name!r} in the query; known fields: {known}")


def plain_words(text: str) -> tuple[str, ...]:
    """The words of a query that could be (the start of) project names."""
    words = []
    for token in text.split():
        if token in _OPERATORS or not _WORD.match(token):
            continue
        star = "*" if token.endswith("*") else ""
        name = normalize_name(token.rstrip("*")).strip("-")
        if name:
            words.append(name + star)
    return tuple(dict.fromkeys(words))


def exact_name(text: str) -> str | None:
    """The project name a query spells when it is nothing but plain words."""
    tokens = text.split()
    if not tokens or any(t in _OPERATORS or not _WORD.match(t) or "*" in t for t in tokens):
        return None
    return normalize_name("-".join(tokens)).strip("-") or None


def parse(parser: qparser.QueryParser, text) -> ParsedQuery:
    """Parse a query; :class:`SearchQueryError` when it is empty, too long or asks for
    an unknown field."""
    text = check_text(text)
    _check_fields(text)
    try:
        parsed = parser.parse(text)
    except Exception as exc:  # whoosh's parser rarely raises; say so kindly when it does
        raise SearchQueryError(f"the search query cannot be understood: {exc}") from None
    if parsed is wq.NullQuery or isinstance(parsed, type(wq.NullQuery)):
        raise SearchQueryError("the search query has no words to look for")
    leaves = list(parsed.leaves())
    if len(leaves) > MAX_TERMS * len(FIELD_BOOSTS):
        raise SearchQueryError(f"the search query has more than {MAX_TERMS} words")
    for leaf in leaves:
        _check_wildcard(leaf)
    exact = exact_name(text)
    if exact is not None:
        parsed = wq.Or([parsed, wq.Term("name_exact", exact, boost=EXACT_NAME_BOOST)])
    return ParsedQuery(text, parsed, plain_words(text), "OR" not in text.split(), exact)


def _check_wildcard(leaf: wq.Query) -> None:
    if isinstance(leaf, wq.Prefix):
        fixed = leaf.text
    elif isinstance(leaf, wq.Wildcard):
        fixed = re.split(r"[*?]", leaf.text, maxsplit=1)[0]
    else:
        return
    if len(fixed) < MIN_WILDCARD_PREFIX:
        raise SearchQueryError(
            f"a wildcard needs at least {MIN_WILDCARD_PREFIX} letters before '*' or '?'"
        )


def check_expansion(query: wq.Query, reader) -> None:
    """Refuse a query whose wildcards stand for too many words."""
    for leaf in query.leaves():
        if isinstance(leaf, wq.Prefix | wq.Wildcard):
            for count, _term in enumerate(leaf._btexts(reader), 1):
                if count > MAX_EXPANSION:
                    raise SearchQueryError(
                        f"{leaf.text}* matches too many words; make the prefix longer"
                    )
