"""The ``stage`` index type: a private index that holds uploads and inherits from bases."""

from __future__ import annotations

from cheesecellar import hookimpl
from cheesecellar.errors import BadRequest
from cheesecellar.model import keys
from cheesecellar.model.indextypes import ConfigKey
from cheesecellar.model.indextypes import IndexType
from cheesecellar.model.indextypes import to_acl
from cheesecellar.model.indextypes import to_bases
from cheesecellar.model.indextypes import to_choice
from cheesecellar.model.indextypes import to_whitelist
from cheesecellar.model.pages import STAGE_READER


def validate_bases(tx, indexname: str, config: dict) -> None:
    """Each base must name an existing index, and following bases must not lead back."""
    for base in config.get("bases", []):
        user, sep, name = base.partition("/")
        if not sep or not user or not name or "/" in name:
            raise BadRequest(f"invalid base index spec: {base!r}")
        if base == indexname:
            raise BadRequest(f"index {indexname} cannot be its own base")
        if tx.get(keys.index(user, name)) is None:
            raise BadRequest(f"base index {base!r} does not exist")
    cycle = find_cycle(tx, indexname, config.get("bases", []))
    if cycle:
        raise BadRequest(f"bases form a cycle: {' -> '.join(cycle)}")


def find_cycle(tx, indexname: str, bases: list[str]) -> list[str] | None:
    """Return a path of bases from ``indexname`` back to itself, if there is one."""
    stack = [(base, [indexname, base]) for base in bases]
    seen = set()
    while stack:
        name, path = stack.pop()
        if name == indexname:
            return path
        if name in seen:
            continue
        seen.add(name)
        user, _, index = name.partition("/")
        config = tx.get(keys.index(user, index)) or {}
        stack.extend((base, [*path, base]) for base in config.get("bases", []))
    return None


STAGE = IndexType(
    name="stage",
    keys=(
        ConfigKey("bases", to_bases, []),
        ConfigKey("acl_upload", to_acl, lambda owner: [owner]),
        ConfigKey("acl_toxresult_upload", to_acl, [":ANONYMOUS:"]),
        ConfigKey("mirror_whitelist", to_whitelist, []),
        ConfigKey(
            "mirror_whitelist_inheritance", to_choice("intersection", "union"), "intersection"
        ),
    ),
    validate=validate_bases,
    reader=STAGE_READER,
)


@hookimpl
def cellar_register_index_types(registry):
    registry.add(STAGE)
