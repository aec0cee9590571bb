"""Contracts between the core and the backends that plugins provide."""

from __future__ import annotations

from zope.interface import Attribute
from zope.interface import Interface


class IStorage(Interface):
    """Metadata records, a changelog with one serial per commit, and file blobs."""

    def transaction(write=False):
        """Context manager: a snapshot read, or the single writer; commits on clean exit."""

    def last_serial():
        """Serial of the newest commit, -1 for an empty store."""

    def last_commit_timestamp():
        """UNIX time of the newest commit, or None."""

    def changelog(serial):
        """The ChangelogEntry committed as ``serial`` (records and blobs), or None."""

    def wait_for_commit(serial, timeout):
        """Block until a serial >= ``serial`` is committed or ``timeout`` passes; return it."""

    def open_file(path):
        """Open a committed blob for binary reading; FileNotFoundError if absent."""

    def follow_primary(fetch):
        """Make this the store of a replica: local write transactions are refused from
        now on, and opening a pending blob first calls ``fetch(ref)`` (a FileRef), which
        should bring its content with ``store_replicated_blob``."""

    def import_changes(entries):
        """Commit a primary's consecutive ChangelogEntry list, each as its own serial.

        The first must be ``last_serial() + 1``; a gap or mismatch raises StorageError
        and imports nothing. Blobs named in the entries are pending until their content
        is stored, unless this store already has the same content at the same path.
        """

    def store_replicated_blob(path, fp):
        """Store the content of the pending blob at ``path`` from ``fp``.

        Returns False if the blob is no longer pending (stored meanwhile, removed or
        replaced); raises StorageError, keeping nothing, if sha256 or size differ.
        """

    def store_replicated_blobs(items):
        """Store the content of several pending blobs in one commit.

        ``items`` are ``(path, content)`` pairs, ``content`` a binary file or bytes. Each
        content is checked against its pending blob's sha256 and size before any of it
        becomes visible. Returns one result per item: True (stored), False (no longer
        pending, or a repeat of an earlier path) or the StorageError that refused it
        (content that differs; nothing of it kept). A refused item does not stop the
        others.
        """

    def pending_files():
        """FileRefs of the blobs whose content has not arrived yet, oldest first."""

    def get_meta(name):
        """Read a node-local value that is not replicated (not in the changelog)."""

    def set_meta(name, value):
        """Store a node-local value outside the changelog."""

    def close():
        """Finish pending work and release the database and files."""


class IReadSnapshot(Interface):
    """A read-only view of a store as of one serial, taken beside a running server.

    Backends offer it through ``StorageBackend.snapshot``; it never writes, takes no
    lock and does not hold up the server's writer.
    """

    serial = Attribute("the serial the view shows (-1 for an empty store)")

    def keys(prefix):
        """Record keys starting with ``prefix``, sorted."""

    def get(key):
        """A record's value, or None."""

    def file_info(path):
        """The FileRef of a blob as of the snapshot, or None."""

    def open_blob(path):
        """Open a blob's content for binary reading; FileNotFoundError if it is gone
        (removed since the snapshot) or has not reached this replica yet."""

    def blob_path(path):
        """The blob's own file on disk, if it has one that may be hard-linked, else None."""

    def close():
        """End the snapshot."""


class ITransaction(Interface):
    """A consistent view of the store; a write transaction also stages changes."""

    at_serial = Attribute("Serial this transaction reads at (-1 when empty).")
    write = Attribute("True for the writer.")

    def get(key):
        """Return the record stored at ``key`` or None."""

    def keys(prefix):
        """Sorted keys that start with ``prefix``."""

    def set(key, value):
        """Stage a JSON-serialisable record for commit."""

    def delete(key):
        """Stage the removal of ``key``."""

    def store_file(path, fp):
        """Write the content of ``fp`` as the blob at ``path``; return its FileRef.

        ``path`` may be a callable taking the sha256 hex digest and returning the path.
        The blob is durable before the commit and visible after it.
        """

    def delete_file(path):
        """Stage the removal of the blob at ``path``."""

    def file_info(path):
        """The FileRef of the blob at ``path``, or None."""

    def on_commit(callback):
        """Call ``callback(serial)`` after this transaction committed."""


class ITokenSigner(Interface):
    """Makes and checks login tokens (:class:`cheesecellar.auth.tokens.TokenSigner`)."""


class IIndexTypes(Interface):
    """The index types (:class:`cheesecellar.model.indextypes.IndexTypeRegistry`)."""


class ISimplePages(Interface):
    """Builds and caches simple API pages (:class:`cheesecellar.simplepages.SimplePages`)."""
