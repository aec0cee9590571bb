"""Push: copy a release from one private index into another index of the same server."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from cheesecellar.errors import BadRequest
from cheesecellar.errors import Conflict
from cheesecellar.errors import NotFound
from cheesecellar.model import releases
from cheesecellar.model.names import normalize_name

OPTIONS = ("name", "version", "targetindex", "no_docs", "only_docs")
#: Keys of devpi's push to another repository (the server itself uploads there).
EXTERNAL_OPTIONS = ("posturl", "username", "password", "register_project")
#: Entry keys that describe the stored blob; ``add_file`` sets them for the copy.
BLOB_KEYS = frozenset({"filename", "relpath", "type", "hashes", "size"})


@dataclasses.dataclass(frozen=True)
class PushRequest:
    """What a push body asks for: one version, the target index and which files."""

    name: str
    version: str
    targetindex: str
    no_docs: bool = False
    only_docs: bool = False

    @property
    def project(self) -> str:
        return normalize_name(self.name)

    @property
    def target_user(self) -> str:
        return self.targetindex.partition("/")[0]

    @property
    def target_index(self) -> str:
        return self.targetindex.partition("/")[2]

    def wants(self, entry: Mapping[str, Any]) -> bool:
        is_doc = entry.get("type") == "doczip"
        return (is_doc and not self.no_docs) or (not is_doc and not self.only_docs)


def parse_push_body(body: Any) -> PushRequest:
    """Check a push body; every problem is a 400 that names it."""
    if not isinstance(body, dict):
        raise BadRequest("a push body must be a JSON object")
    if "targetindex" not in body and any(key in body for key in EXTERNAL_OPTIONS):
        raise BadRequest(
            "pushing to an external repository (posturl) is not supported yet; "
            "push to an index of this server with 'targetindex'"
        )
    unknown = sorted(key for key in body if key not in OPTIONS)
    if unknown:
        raise BadRequest(f"unknown additional options: {', '.join(unknown)}")
    name, version = body.get("name"), body.get("version")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("a push needs the project 'name' as a non-empty string")
    if not isinstance(version, str) or not version.strip():
        raise BadRequest("a push needs the 'version' as a non-empty string")
    return PushRequest(name, version, _target(body.get("targetindex")), *_doc_flags(body))


def _target(value: Any) -> str:
    user, sep, index = value.partition("/") if isinstance(value, str) else ("", "", "")
    if not sep or not user or not index or "/" in index:
        raise BadRequest("targetindex not in format user/index")
    return value


def _doc_flags(body: dict) -> tuple[bool, bool]:
    flags = [body.get("no_docs", False), body.get("only_docs", False)]
    if not all(isinstance(flag, bool) for flag in flags):
        raise BadRequest("'no_docs' and 'only_docs' must be true or false")
    if all(flags):
        raise BadRequest("can't use 'no_docs' and 'only_docs' together")
    return flags[0], flags[1]


def push_release(
    tx, storage, source: str, push: PushRequest, *, who: str | None, volatile: bool
) -> list[list]:
    """Copy ``push``'s version from ``source`` to its target; return devpi's action log.

    Only the source index's own release counts, not one it inherits. Files keep their
    content, sha256 path, upload time and history; a non-volatile target refuses any
    file name it already has, even with the same content.
    """
    verdata = releases.get_version(tx, source, push.project, push.version)
    if verdata is None:
        raise NotFound(f"there are no files for {push.name} {push.version} on stage {source}")
    entries = sorted(
        (e for e in verdata.get(releases.FILES, ()) if push.wants(e)),
        # Release files first, then the tox results attached to them, then the docs.
        key=lambda e: (e.get("type") == "doczip", "for_relpath" in e),
    )
    if not entries:
        raise NotFound(f"no release/files found for {push.name} {push.version}")
    target = push.targetindex
    if not volatile:
        _refuse_existing(tx, push, entries)
    releases.set_metadata(tx, target, push.project, push.version, verdata)
    actions = [[200, "register", push.name, push.version, "->", target]]
    log = releases.log_entry("push", who, target, src=source)
    for entry in entries:
        copied = _copy_file(tx, storage, push, entry, log, volatile, source)
        actions.append(_action(push, entry, copied))
    return actions


def _refuse_existing(tx, push: PushRequest, entries: list[dict]) -> None:
    existing = releases.get_version(tx, push.targetindex, push.project, push.version) or {}
    names = {e["filename"] for e in existing.get(releases.FILES, ())}
    for entry in entries:
        if entry["filename"] in names:
            raise Conflict(f"{entry['filename']} already exists in non-volatile index")


def _copy_file(
    tx, storage, push: PushRequest, entry: dict, log: dict, volatile: bool, source: str
) -> dict:
    """Store ``entry``'s blob (and its core metadata) in the target; return the new entry."""
    extra = {k: v for k, v in entry.items() if k not in BLOB_KEYS}
    extra["log"] = [*entry.get("log", ()), log]
    relpath = None
    if "for_relpath" in entry:
        # A tox result keeps its name next to the copy of its release file.
        relpath = _moved(entry["relpath"], source, push.targetindex)
        extra["for_relpath"] = _moved(entry["for_relpath"], source, push.targetindex)
    with storage.open_file(entry["relpath"]) as fp:
        copied, identical = releases.add_file(
            tx, push.targetindex, push.project, push.version, entry["filename"], fp,
            entry["hashes"]["sha256"], who=log["who"], volatile=volatile,
            filetype=entry.get("type", "releasefile"), extra=extra, relpath=relpath,
        )  # fmt: skip
    if entry.get("core_metadata") and not identical:
        with storage.open_file(entry["relpath"] + ".metadata") as fp:
            tx.store_file(copied["relpath"] + ".metadata", fp)
    return copied


def _moved(relpath: str, source: str, target: str) -> str:
    """``relpath`` of index ``source`` as the same path in index ``target``."""
    return target + relpath[len(source) :]


def _action(push: PushRequest, entry: dict, copied: dict) -> list:
    if entry.get("type") == "doczip":
        return [200, "store_doczip", push.name, push.version, "->", push.targetindex]
    return [200, f"store_{entry.get('type', 'releasefile')}", copied["relpath"]]
