"""Pages of results drawn from several ranked lists shown one after the other."""

from __future__ import annotations

from collections.abc import Sequence

from cheesecellar.search import SearchQueryError

MAX_PER_PAGE = 100
#: Pages beyond this are refused: nobody reads them, and each costs a deeper search.
MAX_PAGE = 1_000


def _number(name: str, value) -> int:
    if isinstance(value, bool):
        raise SearchQueryError(f"{name} must be a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SearchQueryError(f"{name} must be a whole number, not {value!r}") from None


def check_paging(page, per_page) -> tuple[int, int]:
    page, per_page = _number("page", page), _number("per_page", per_page)
    if not 1 <= page <= MAX_PAGE:
        raise SearchQueryError(f"page must be between 1 and {MAX_PAGE}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise SearchQueryError(f"per_page must be between 1 and {MAX_PER_PAGE}")
    return page, per_page


class Window:
    """The slice ``[(page - 1) * per_page, page * per_page)`` of a concatenation."""

    def __init__(self, page: int, per_page: int) -> None:
        self.start = (page - 1) * per_page
        self.end = self.start + per_page

    @property
    def limit(self) -> int:
        """How many of the top results a ranked list must yield to fill the window."""
        return self.end

    def take(self, segments: Sequence[tuple[Sequence, int, int]]) -> list:
        """Items of the window from ``segments``: ``(items, lo, hi)`` stands for
        ``items[lo:hi]``; the segments follow each other in order."""
        taken = []
        offset = 0
        for items, lo, hi in segments:
            length = max(0, hi - lo)
            first = max(self.start - offset, 0)
            last = min(self.end - offset, length)
            if first < last:
                taken.extend(items[lo + i] for i in range(first, last))
            offset += length
        return taken
