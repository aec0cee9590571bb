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
    mirror after it: the mirror is not even asked. A mirror whose upstream is down with
    nothing cached is skipped, unless nothing else has the project (then: 502).
    """
    walk = list(sro(tx, types, indexname))
    own = walk[0][1] if walk else {}
    # Indexes made before the key existed behave as "union".
    guard = _Whitelist(project, own.get("mirror_whitelist_inheritance", "union"))
    hits: list[StageHit] = []
    blocked: list[str] = []
    expiry: list[float] = []
    unavailable: MirrorUnavailable | None = None
    for name, config in walk:
        is_mirror = types.get(config["type"]).is_mirror
        if is_mirror and guard.blocks_mirrors:
            blocked.append(name)
            continue
        reader = reader_for(types, config)
        try:
            has = reader is not None and reader.has_project(tx, name, config, project)
        except MirrorUnavailable as exc:
            unavailable, has = exc, False
        if is_mirror:
            expiry.extend(_expiry(reader, name, project))
        else:
            guard.add_stage(config, has)
        if has:
            hits.append(StageHit(name, config, is_mirror))
    if unavailable is not None and not hits:
        raise unavailable  # other stages have nothing; upstream's answer is unknown
    return Resolution(hits, blocked, min(expiry, default=None))


class _Whitelist:
    """The mirror whitelist combined along the resolution order, and whether a private
    stage holding the project hides the mirrors after it."""

    def __init__(self, project: str, inheritance: str) -> None:
        self.project = project
        self.inheritance = inheritance
        self.names: set[str] | None = None
        self.private_hit = self.whitelisted = False

    @property
    def blocks_mirrors(self) -> bool:
        return self.private_hit and not self.whitelisted

    def add_stage(self, config: dict, has: bool) -> None:
        own = set(config.get("mirror_whitelist", ()))
        if self.names is None:
            self.names = own
        elif self.inheritance == "union":
            self.names |= own
        else:
            self.names &= own
        if "*" in self.names or self.project in self.names:
            self.whitelisted = True
        elif has:
            self.private_hit = True


def _expiry(reader, name: str, project: str) -> list[float]:
    when = reader.expires_at(name, project) if hasattr(reader, "expires_at") else None
    return [] if when is None else [when]


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
