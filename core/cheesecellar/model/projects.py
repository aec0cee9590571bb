"""Projects of an index: the names it holds (uploads and their versions come with hosting)."""

from __future__ import annotations

from cheesecellar.model import keys


def project_names(tx, indexname: str) -> list[str]:
    """Sorted normalised names of the projects stored in ``indexname``."""
    prefix = keys.projects_prefix(indexname)
    return [key[len(prefix) :] for key in tx.keys(prefix)]
