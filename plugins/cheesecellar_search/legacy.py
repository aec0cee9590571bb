"""The legacy ``pip search`` call: ``{"name": [...], "summary": [...]}`` and an operator."""

from __future__ import annotations

from whoosh import query as wq

from cheesecellar.search import SearchQueryError
from cheesecellar_search.query import exact_name
from cheesecellar_search.query import plain_words
from cheesecellar_search.schema import EXACT_NAME_BOOST

#: Legacy field names and the whoosh fields each one searches.
LEGACY_FIELDS = {
    "name": ("name",),
    "summary": ("summary",),
    "description": ("description",),
    "keywords": ("keywords",),
    "author": ("author",),
    "maintainer": ("author",),
}
MAX_VALUES = 20
MAX_VALUE_LENGTH = 200


def _values(fields: dict) -> list[tuple[str, str]]:
    if not isinstance(fields, dict):
        raise SearchQueryError("search needs a struct of field names to lists of words")
    pairs = []
    for field, values in fields.items():
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SearchQueryError(f"search field {field!r} needs a list of strings")
        if field in LEGACY_FIELDS:
            pairs.extend((field, value) for value in values if value.strip())
    if len(pairs) > MAX_VALUES or any(len(value) > MAX_VALUE_LENGTH for _f, value in pairs):
        raise SearchQueryError("search asks for too many or too long words")
    return pairs


def _value_query(schema, field: str, value: str) -> wq.Query | None:
    """Every word of ``value`` in ``field`` (and the whole value as an exact name)."""
    found = []
    for target in LEGACY_FIELDS[field]:
        words = [token.text for token in schema[target].analyzer(value)]
        if words:
            found.append(wq.And([wq.Term(target, word) for word in words]))
    if field == "name" and exact_name(value):
        found.append(wq.Term("name_exact", exact_name(value), boost=EXACT_NAME_BOOST))
    return wq.Or(found) if found else None


def fields_query(schema, fields: dict, operator: str) -> wq.Query | None:
    """The whoosh query of a legacy search; None when no field can match anything."""
    if not isinstance(operator, str) or operator.lower() not in ("and", "or"):
        raise SearchQueryError("the search operator must be 'and' or 'or'")
    queries = [_value_query(schema, field, value) for field, value in _values(fields)]
    queries = [query for query in queries if query is not None]
    if not queries:
        return None
    return (wq.And if operator.lower() == "and" else wq.Or)(queries)


def name_words(fields: dict) -> tuple[tuple[str, ...], str | None]:
    """Words to look up in mirror name lists, and the exact name if one value is a name."""
    values = [value for field, value in _values(fields) if field == "name"]
    words = tuple(dict.fromkeys(word for value in values for word in plain_words(value)))
    exact = next((exact_name(value) for value in values if exact_name(value)), None)
    return words, exact
