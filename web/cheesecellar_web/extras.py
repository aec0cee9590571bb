"""Docs hosting, tox result pages, the status page, the mirror cache view and the search page."""

from __future__ import annotations


def includeme(config) -> None:
    pass
