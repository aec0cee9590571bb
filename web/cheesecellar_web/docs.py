"""Hosted documentation: which doc zip a version URL names, unpacked safely on first use."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cheesecellar import hookimpl
from cheesecellar.doczips import DEFAULT_LIMITS
from cheesecellar.doczips import DocLimits
from cheesecellar.doczips import DocZipError
from cheesecellar.doczips import doc_members
from cheesecellar.keyedlocks import KeyedLocks
from cheesecellar.model import keys
from cheesecellar.model import releases
from cheesecellar.model.indexes import sro
from cheesecellar.model.pages import version_key
from cheesecellar_web.listing import is_final

log = logging.getLogger(__name__)

#: Where unpacked documentation lives, under the server directory.
DOCS_DIR = "+docs"
#: ``latest``: the newest version with docs; ``stable``: the newest final release with docs.
ALIASES = ("latest", "stable")
CHUNK = 64 * 1024


@dataclasses.dataclass(frozen=True)
class DocZip:
    """A stored documentation zip: the index that holds it and the version it documents."""

    indexname: str
    project: str
    version: str
    relpath: str
    sha256: str


def doczip_of(indexname: str, project: str, verdata: dict | None) -> DocZip | None:
    """The documentation zip among a stored version's files, or None."""
    for entry in (verdata or {}).get(releases.FILES, ()):
        if entry.get("type") == "doczip":
            sha256 = entry.get("hashes", {}).get("sha256", "")
            return DocZip(indexname, project, verdata["version"], entry["relpath"], sha256)
    return None


def _private_stages(tx, types, indexname: str) -> Iterator[str]:
    for name, config in sro(tx, types, indexname):
        if not types.get(config["type"]).is_mirror:
            yield name


def find_doczip(tx, types, indexname: str, project: str, version: str) -> DocZip | None:
    """The docs of ``version`` (or ``latest``/``stable``) as ``indexname`` sees them:
    the first index of its resolution order that has them."""
    if version in ALIASES:
        return newest_doczip(tx, types, indexname, project, stable=version == "stable")
    for name in _private_stages(tx, types, indexname):
        found = doczip_of(name, project, releases.get_version(tx, name, project, version))
        if found is not None:
            return found
    return None


def newest_doczip(tx, types, indexname: str, project: str, *, stable: bool) -> DocZip | None:
    """The docs of the newest version that has any (a final release for ``stable``)."""
    found: dict[str, DocZip] = {}
    for name in _private_stages(tx, types, indexname):
        for version in releases.version_strings(tx, name, project):
            if version in found or (stable and not is_final(version)):
                continue
            doc = doczip_of(name, project, releases.get_version(tx, name, project, version))
            if doc is not None:
                found[version] = doc
    if not found:
        return None
    return found[max(found, key=version_key)]


def _component(name: str) -> str:
    """A stored name used as one directory name; refuses anything that could move up."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise DocZipError(f"{name!r} cannot name a documentation directory")
    return name


class DocTrees:
    """Unpacked documentation under ``{serverdir}/+docs``.

    A zip is unpacked into ``{user}/{index}/{project}/{version}/{sha256 of the zip}/``:
    first into a temporary directory next to it, then renamed, so a tree either is
    complete or is not there. The directory name records which zip it came from; a
    replaced zip has another digest and is unpacked again, and the old tree goes.
    """

    def __init__(self, root: Path, storage, limits: DocLimits = DEFAULT_LIMITS) -> None:
        self.root = Path(root)
        self.storage = storage
        self.limits = limits
        self._locks = KeyedLocks()
        #: Creating a tree's parents and pruning empty ones exclude each other, so a
        #: prune never removes a directory an unpack is about to use.
        self._structure = threading.Lock()

    def version_dir(self, indexname: str, project: str, version: str) -> Path:
        user, index = indexname.split("/", 1)
        parts = [_component(part) for part in (user, index, project, version)]
        return self.root.joinpath(*parts)

    def tree(self, doc: DocZip) -> Path:
        """The unpacked tree of ``doc``, unpacked now if it is not yet.

        :raises DocZipError: when the stored zip is unsafe or unreadable.
        """
        parent = self.version_dir(doc.indexname, doc.project, doc.version)
        target = parent / _component(doc.sha256)
        if target.is_dir():
            return target
        with self._locks.hold(parent):
            if not target.is_dir():
                self._unpack(doc, target)
                _remove_others(parent, keep=target.name)
        return target

    def _unpack(self, doc: DocZip, target: Path) -> None:
        with self._structure:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=target.parent))
        try:
            with self._open_zip(doc) as zf:
                unpack_members(zf, tmp, self.limits)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @contextlib.contextmanager
    def _open_zip(self, doc: DocZip) -> Iterator[zipfile.ZipFile]:
        try:
            with contextlib.ExitStack() as stack:
                fp = stack.enter_context(self.storage.open_file(doc.relpath))
                if not fp.seekable():  # a backend may stream; a zip is read from its end
                    copy = stack.enter_context(tempfile.TemporaryFile())
                    shutil.copyfileobj(fp, copy)
                    copy.seek(0)
                    fp = copy
                yield stack.enter_context(zipfile.ZipFile(fp))
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise DocZipError(f"the stored documentation is not a valid zip ({exc})") from None

    def remove(self, *parts: str, keep: str | None = None) -> None:
        """Remove the trees of a user, an index, a project or a version (all but ``keep``)."""
        try:
            where = self.root.joinpath(*[_component(part) for part in parts])
        except DocZipError:
            return
        with self._locks.hold(where):
            if keep is None:
                shutil.rmtree(where, ignore_errors=True)
            elif where.is_dir():
                _remove_others(where, keep)
        with self._structure:
            _prune_empty(where, self.root)


def unpack_members(zf: zipfile.ZipFile, dest: Path, limits: DocLimits) -> int:
    """Write the safe members of ``zf`` below ``dest``; return the bytes written.

    Every member is checked by :func:`cheesecellar.doczips.doc_members` first (names,
    links, claimed sizes), and no member may write more bytes than its header claims.
    """
    written = 0
    for info, relative in doc_members(zf, limits):
        path = dest / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(path, "xb") as target:
                written += _copy_bounded(source, target, info)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise DocZipError(f"member {info.filename!r} clashes with another member") from None
        except OSError as exc:
            raise DocZipError(f"member {info.filename!r} cannot be unpacked: {exc}") from None
    return written


def _copy_bounded(source: IO[bytes], target: IO[bytes], info: zipfile.ZipInfo) -> int:
    copied = 0
    while chunk := source.read(CHUNK):
        copied += len(chunk)
        if copied > info.file_size:
            raise DocZipError(f"member {info.filename!r} is larger than it claims")
        target.write(chunk)
    return copied


def _remove_others(parent: Path, keep: str) -> None:
    """Remove every tree of ``parent`` but ``keep`` (and what an interrupted unpack left);
    the caller holds the lock of ``parent``."""
    for child in parent.iterdir():
        if child.name != keep:
            shutil.rmtree(child, ignore_errors=True)


def _prune_empty(path: Path, stop: Path) -> None:
    """Remove ``path``'s empty parents up to (not including) ``stop``."""
    for parent in [path, *path.parents]:
        if parent == stop or stop not in parent.parents:
            return
        try:
            parent.rmdir()
        except FileNotFoundError:
            continue
        except OSError:  # not empty
            return


def stale_trees(tx, changes) -> Iterator[tuple[tuple[str, ...], str | None]]:
    """``(directory parts, digest to keep)`` of the trees a commit's changes may have made
    stale: of a removed user or index, and of a changed or removed version.

    What to keep is read from ``tx`` (the newest state), not from the change: the event
    thread may replay old commits, and an old change must not remove current docs.
    """
    for change in changes:
        parsed = keys.parse(change.key)
        if parsed is None:
            continue
        if parsed.kind in ("user", "index") and change.value is None:
            if tx.get(change.key) is None:
                yield parsed.parts, None
        elif parsed.kind == "version":
            user, index, project, _version = parsed.parts
            doc = doczip_of(f"{user}/{index}", project, tx.get(change.key))
            yield parsed.parts, None if doc is None else doc.sha256


class DocJanitor:
    """A plugin object (one per server): removes unpacked trees after commits that made
    them stale."""

    def __init__(self, trees: DocTrees) -> None:
        self.trees = trees

    @hookimpl
    def cellar_on_commit(self, serial: int, changes) -> None:
        if not any(_may_touch_docs(change.key) for change in changes):
            return
        with self.trees.storage.transaction() as tx:
            stale = list(stale_trees(tx, changes))
        for parts, keep in stale:
            self.trees.remove(*parts, keep=keep)


def _may_touch_docs(key: str) -> bool:
    return key.startswith((keys.VERSION_PREFIX, keys.INDEX_PREFIX, keys.USER_PREFIX))
