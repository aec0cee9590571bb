"""What an index shows for a project: its stages in resolution order, with the mirror
whitelist protecting private names from being shadowed by (or asked of) a mirror."""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

from cheesecellar.errors import MirrorUnavailable
from cheesecellar.model.indexes import sro


@dataclasses.dataclass(frozen=True)
class StageHit:
    """A stage of the resolution order that holds the project."""

    name: str
    config: dict
    is_mirror: bool


@dataclasses.dataclass(frozen=True)
class Resolution:
    hits: list[StageHit]
    blocked_mirrors: list[str]  # mirrors left out because the name is private
    #: The earliest time (time.monotonic()) an asked mirror wants to be asked again.
    expires_at: float | None = None


def reader_for(types, config: dict) -> Any | None:
    """The reader of an index type, or None when the type stores nothing readable yet."""
    return types.get(config["type"]).reader


def resolve(tx, types, indexname: str, project: str) -> Resolution:
    """Walk the resolution order of ``indexname`` for ``project``.

    A stage whose whitelist (combined along the order as the requesting index's
    ``mirror_whitelist_inheritance`` says) names the project, or ``*``, lets mirrors
    contribute. Otherwise the first private stage that has the project hides every
    mirror after it: the mirror is not even asked.
    """
    walk = list(sro(tx, types, indexname))
    own = walk[0][1] if walk else {}
    # Indexes made before the key existed behave as "union".
    inheritance = own.get("mirror_whitelist_inheritance", "union")
    whitelist: set[str] | None = None
    private_hit = whitelisted = False
    hits: list[StageHit] = []
    blocked: list[str] = []
    expiry: list[float] = []
    unavailable: MirrorUnavailable | None = None
    for name, config in walk:
        is_mirror = types.get(config["type"]).is_mirror
        reader = reader_for(types, config)
        if is_mirror and private_hit and not whitelisted:
            blocked.append(name)
            continue
        try:
            has = reader is not None and reader.has_project(tx, name, config, project)
        except MirrorUnavailable as exc:
            unavailable, has = exc, False
        if is_mirror and hasattr(reader, "expires_at"):
            when = reader.expires_at(name, project)
            if when is not None:
                expiry.append(when)
        if not is_mirror:
            own_list = set(config.get("mirror_whitelist", ()))
            if whitelist is None:
                whitelist = own_list
            elif inheritance == "union":
                whitelist |= own_list
            else:
                whitelist &= own_list
            if "*" in whitelist or project in whitelist:
                whitelisted = True
            elif has:
                private_hit = True
        if has:
            hits.append(StageHit(name, config, is_mirror))
    if unavailable is not None and not hits:
        raise unavailable  # other stages have nothing; upstream's answer is unknown
    return Resolution(hits, blocked, min(expiry, default=None))


def project_names(tx, types, indexname: str) -> list[str]:
    """Normalised names of every project visible through ``indexname`` (bases included)."""
    return list(merge_names(name_sources(tx, types, indexname)))


def name_sources(tx, types, indexname: str) -> list[Iterable[str]]:
    """The sorted project names of each index in the resolution order. Small indexes
    give lists; a mirror may give a re-iterable that streams a long list from disk."""
    sources = []
    for name, config in sro(tx, types, indexname):
        reader = reader_for(types, config)
        if reader is not None:
            sources.append(reader.project_names(tx, name, config))
    return sources


def merge_names(sources: Iterable[Iterable[str]]) -> Iterator[str]:
    """Merge sorted name sources into one sorted stream without repeats."""
    last = None
    for name in heapq.merge(*sources):
        if name != last:
            yield name
            last = name
