"""The whoosh schema: one document per private project and one per page of its docs."""

from __future__ import annotations

from whoosh import analysis
from whoosh import fields

#: Bump when the schema or what goes into a document changes: the index is rebuilt.
SCHEMA_VERSION = 1

#: Fields a query searches when it names none, with their weight. An exact name match
#: also gets :data:`EXACT_NAME_BOOST` through ``name_exact``.
FIELD_BOOSTS = {
    "name": 8.0,
    "summary": 4.0,
    "keywords": 4.0,
    "title": 2.5,
    "description": 2.0,
    "classifiers": 1.0,
    "author": 1.0,
    "text": 1.0,
}
EXACT_NAME_BOOST = 40.0
#: Fields a query may name (``summary:parser``); ``name_exact`` and the rest are internal.
QUERY_FIELDS = (*FIELD_BOOSTS, "project", "version", "kind", "index")

# Project names split at every non-alphanumeric, so "flask-login" is found by "login".
_NAME = analysis.RegexTokenizer(r"[A-Za-z0-9]+") | analysis.LowercaseFilter()
_PROSE = analysis.StemmingAnalyzer()


def make_schema() -> fields.Schema:
    return fields.Schema(
        key=fields.ID(stored=True, unique=True),  # project: "p|u/i|p"; page: "d|u/i|p|path"
        kind=fields.ID(stored=True),  # "project" or "doc"
        owner=fields.ID(),  # "u/i|p": every document of one project of one index
        index=fields.ID(stored=True),  # "u/i"
        user=fields.ID(),
        project=fields.ID(stored=True),  # normalised name
        version=fields.ID(stored=True),
        path=fields.STORED(),  # the page path inside the doc zip
        display=fields.STORED(),  # the project name as uploaded
        name=fields.TEXT(analyzer=_NAME),
        name_exact=fields.ID(),
        summary=fields.TEXT(analyzer=_PROSE, stored=True),
        keywords=fields.TEXT(analyzer=_PROSE),
        description=fields.TEXT(analyzer=_PROSE, stored=True),
        classifiers=fields.TEXT(analyzer=_PROSE),
        author=fields.TEXT(analyzer=_PROSE),
        title=fields.TEXT(analyzer=_PROSE, stored=True),
        text=fields.TEXT(analyzer=_PROSE, stored=True),
    )


def owner_key(indexname: str, project: str) -> str:
    return f"{indexname}|{project}"


def project_key(indexname: str, project: str) -> str:
    return f"p|{indexname}|{project}"


def page_key(indexname: str, project: str, path: str) -> str:
    return f"d|{indexname}|{project}|{path}"
