"""Name rules: project name normalisation and the characters user and index names allow."""

from __future__ import annotations

import re

from cheesecellar.errors import BadRequest

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
# ASCII punctuation other than -.@_ , plus control characters and space.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f!\"#$%&'()*+,/:;<=>?\[\\\]^`{|}~]")
MAX_NAME_LENGTH = 255


def normalize_name(name: str) -> str:
    """Normalise a project name: runs of non-alphanumerics become ``-``, lower-cased.

    This is devpi's rule; it is wider than PEP 503 (which folds only ``-_.``) and agrees
    with it on every name PEP 508 allows.
    """
    return _NOT_ALNUM.sub("-", name).lower()


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it is a valid user or index name, else raise 400."""
    if not name:
        raise BadRequest(f"{kind} name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"{kind} name is longer than {MAX_NAME_LENGTH} characters")
    if _FORBIDDEN.search(name) or name.startswith("+"):
        raise BadRequest(
            f"{kind}name {name!r} contains characters that aren't allowed. "
            "Any ascii symbol besides -.@_ is blocked."
        )
    if name.startswith("."):
        # ".", ".." and ".tmp" would name directories of the file tree, not an index's own
        raise BadRequest(f"{kind} name {name!r} must not start with '.'")
    return name
