"""The search contract between the server and a search engine plugin.

A backend comes from ``cellar_get_search_backend``; the ``/+search`` API, the web UI's
search page and ``pip search`` (XML-RPC) all ask it through :class:`SearchBackend`.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from typing import Protocol

from cheesecellar.errors import BadRequest


class SearchQueryError(BadRequest):
    """The query cannot be understood; the message says why, for a person to read."""


@dataclasses.dataclass(frozen=True)
class Fragment:
    """A piece of text around a match: ``parts`` alternate plain text and matched text,
    starting with plain text (possibly empty). Text comes from documents, so a page
    must escape every part."""

    parts: tuple[str, ...]

    def as_json(self) -> list[dict[str, Any]]:
        return [{"text": text, "match": bool(i % 2)} for i, text in enumerate(self.parts) if text]


@dataclasses.dataclass(frozen=True)
class SearchHit:
    """One found project (``kind`` ``project``), doc page (``doc``) or mirror name
    (``mirror``, found by name only)."""

    kind: str
    user: str
    index: str
    project: str
    version: str | None
    path: str  # the URL path of the hit below the server root, starting with "/"
    title: str
    summary: str = ""
    score: float = 0.0
    fragments: tuple[Fragment, ...] = ()

    @property
    def indexname(self) -> str:
        return f"{self.user}/{self.index}"

    def as_json(self) -> dict[str, Any]:
        found = dataclasses.asdict(self)
        found["fragments"] = [fragment.as_json() for fragment in self.fragments]
        return found


@dataclasses.dataclass(frozen=True)
class SearchResults:
    query: str
    page: int
    per_page: int
    total: int
    hits: tuple[SearchHit, ...]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "pages": self.pages,
            "hits": [hit.as_json() for hit in self.hits],
        }


class SearchBackend(Protocol):
    """What a search engine plugin provides."""

    def search(
        self, query: str, *, page: int = 1, per_page: int = 20, indexname: str | None = None
    ) -> SearchResults:
        """Find projects and doc pages; ``indexname`` limits the search to the indexes
        that index sees (its resolution order). Raises :class:`SearchQueryError` for a
        query that cannot be parsed."""

    def search_fields(
        self, fields: dict[str, list[str]], operator: str, indexname: str | None = None
    ) -> list[SearchHit]:
        """The legacy ``pip search`` call: ``{"name": [...], "summary": [...]}`` joined
        with ``"and"`` or ``"or"``; one hit per (index, project), newest version."""

    def status(self) -> dict[str, Any]:
        """Progress for ``/+status``: at least ``indexed-serial`` and ``queued``."""

    def rebuild(self) -> None:
        """Throw the index away and index everything again (in the background)."""
