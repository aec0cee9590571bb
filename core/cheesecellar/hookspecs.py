"""Hook specifications: every point where a plugin can extend cheesecellar.

Sections follow the life of the server: command line, configuration, start-up, web
configuration, storage, indexes, authentication, events after commit, status.
Providers (``cellar_get_*``) stop at the first non-``None`` result; registrations
(``cellar_register_*``) call ``registry.add(...)``; events (``cellar_on_*``) run after
the write transaction committed, in serial order, and their return values are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import pluggy

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

    from pyramid.config import Configurator
    from pyramid.registry import Registry
    from pyramid.request import Request

    from cheesecellar.auth.identity import Credentials
    from cheesecellar.auth.identity import Identity
    from cheesecellar.config import OptionParser
    from cheesecellar.config import Settings
    from cheesecellar.events import Change
    from cheesecellar.model.indextypes import IndexTypeRegistry
    from cheesecellar.search import SearchBackend
    from cheesecellar.storage import StorageRegistry

hookspec = pluggy.HookspecMarker("cheesecellar")


# --- command line ----------------------------------------------------------------------


@hookspec
def cellar_add_options(parser: OptionParser) -> None:
    """Add server options to ``parser`` before the command line is read.

    Options added here follow the same precedence as the built-in ones: their defaults,
    then the config file, then ``CELLAR_<DEST>`` environment variables, then the command
    line. The resolved values are reachable as ``settings.plugin(dest)``.

    :param parser: the server option parser; ``parser.add_argument`` takes the
        arguments of :meth:`argparse.ArgumentParser.add_argument`.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_register_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add subcommands to ``cellar``.

    Call ``subparsers.add_parser(name, help=...)`` and set the default ``func`` of the
    new parser to a callable ``func(args, options)`` that returns an exit code; ``args``
    is the parsed namespace (``args.pm`` is the plugin manager) and ``options`` maps the
    built-in command names to their server option parsers.

    :param subparsers: the subcommand collection of the ``cellar`` parser.

    .. versionadded:: 0.1
    """


# --- configuration and lifecycle -------------------------------------------------------


@hookspec
def cellar_configure(settings: Settings) -> None:
    """Inspect the resolved settings once, before storage is opened.

    Raise :class:`cheesecellar.config.ConfigError` to refuse to start with a message.

    :param settings: the frozen, resolved settings.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_startup(registry: Registry) -> None:
    """The server is ready: storage is open and the web application is built.

    Start background threads here. Services are found with ``registry.getUtility``,
    for example ``registry.getUtility(IStorage)``; settings are ``registry.cellar_settings``.

    :param registry: the application registry.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_shutdown(registry: Registry) -> None:
    """The server is stopping: in-flight requests have finished; storage is still open.

    Stop background threads started in :func:`cellar_startup`.

    :param registry: the application registry.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_init_serverdir(tx: Any, settings: Settings) -> None:
    """A new server directory is being initialised: add the records it starts with.

    Runs inside the first write transaction, after the ``root`` user exists. The mirror
    plugin creates ``root/pypi`` here unless ``settings.plugin("no_root_pypi")`` is set.

    :param tx: the write transaction.
    :param settings: the resolved settings.

    .. versionadded:: 0.1
    """


# --- web -------------------------------------------------------------------------------


@hookspec
def cellar_pyramid_configure(config: Configurator) -> None:
    """Add routes, views, tweens or view derivers to the web application.

    Called after the core routes are added and before views are scanned; call
    ``config.include("yourplugin.web")`` and keep the configuration there.

    :param config: the Pyramid configurator of the application.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_get_features() -> set[str] | None:
    """Return feature strings to announce in ``/+api`` ``features``.

    The announced list is the sorted union of the core features and every result.

    :returns: a set of feature strings, or ``None``.

    .. versionadded:: 0.1
    """


# --- storage ---------------------------------------------------------------------------


@hookspec
def cellar_register_storage(registry: StorageRegistry) -> None:
    """Register storage backends by name with ``registry.add(StorageBackend(...))``.

    ``--storage NAME[:key=value,...]`` picks one; the default is ``fs``. A backend must
    pass the storage conformance suite in ``tests/unit/storage``.

    :param registry: the storage backend registry.

    .. versionadded:: 0.1
    """


# --- indexes ---------------------------------------------------------------------------


@hookspec
def cellar_register_index_types(registry: IndexTypeRegistry) -> None:
    """Register index types with ``registry.add(IndexType(...))``.

    The core registers ``stage``; the mirror plugin registers ``mirror``. Each type names
    its configuration keys, their defaults and how input is converted and checked.

    :param registry: the index type registry.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_indexconfig_defaults(index_type: str) -> Mapping[str, Any] | None:
    """Return extra configuration keys for indexes of ``index_type`` with their defaults.

    A ``bool`` default makes the key boolean (``true``/``false``/``yes``/``no`` are
    accepted), a ``list`` default makes it a list (a comma string is split); any other
    default accepts any JSON value. Name keys after your plugin to avoid clashes.

    To check values, give a :class:`~cheesecellar.model.indextypes.ConfigKey` instead of
    a default: its ``convert(key, value)`` turns input (a JSON value, or the string of a
    ``key=value`` operation) into the stored value and raises
    :class:`~cheesecellar.errors.BadRequest` with a message for a bad one, so creating
    or changing the index answers ``400``. A ``ConfigKey`` without a ``default`` leaves
    the key out of new indexes until it is set, and ``key-=`` removes it again.

    :param index_type: ``"stage"``, ``"mirror"`` or a plugin type.
    :returns: a mapping of key to default (or to a ``ConfigKey``), or ``None``.

    .. versionadded:: 0.1
    """


# --- mirrors ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def cellar_get_upstream(indexname: str, ixconfig: Mapping[str, Any], settings: Settings) -> Any:
    """Return the client that fetches a mirror index's upstream pages and files.

    Without an answer the mirror plugin uses its own HTTP client for ``mirror_url``
    (PEP 691 JSON or PEP 503 HTML); answer to fetch from somewhere else. The
    object needs the methods of :class:`cheesecellar_mirror.upstream.Upstream`:
    ``fetch_project``, ``fetch_project_list``, ``open_file``, ``fetch_bytes`` and
    ``close``. It is asked again when the index configuration changes.
    Stops at first non-None result.

    :param indexname: the mirror index, ``user/index``.
    :param ixconfig: its configuration, ``mirror_url`` included.
    :param settings: the server settings (timeouts, offline mode).
    :returns: an upstream client, or ``None`` to leave it to other plugins.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def cellar_get_mirror_auth(indexname: str, url: str) -> tuple[str, str] | None:
    """Return ``(username, password)`` for the upstream of a mirror index.

    Used when ``mirror_url`` carries no credentials of its own. The credentials are
    sent only to the scheme, host and port of ``url``, never to a file host elsewhere,
    and never shown in logs or to users other than root and the index owner.
    Stops at first non-None result.

    :param indexname: the mirror index, ``user/index``.
    :param url: its ``mirror_url`` without credentials.
    :returns: a username and password, or ``None``.

    .. versionadded:: 0.1
    """


# --- authentication --------------------------------------------------------------------


@hookspec(firstresult=True)
def cellar_get_credentials(request: Request) -> Credentials | None:
    """Extract credentials from ``request``.

    The core reads ``X-Devpi-Auth`` first and HTTP Basic second. Credentials that turn
    out to be wrong make the request anonymous; they never cause a 401 by themselves.

    Stops at first non-None result.

    :param request: the current request.
    :returns: :class:`~cheesecellar.auth.identity.Credentials` or ``None``.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def cellar_get_identity(request: Request, credentials: Credentials | None) -> Identity | None:
    """Turn ``credentials`` into an identity with a user name and groups.

    The core's implementation (``trylast``) accepts a login token signed by this server
    or a password confirmed by :func:`cellar_auth_user`.

    Stops at first non-None result.

    :param request: the current request.
    :param credentials: what :func:`cellar_get_credentials` returned, or ``None``.
    :returns: :class:`~cheesecellar.auth.identity.Identity` or ``None`` for anonymous.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def cellar_auth_user(
    username: str, password: str, userconfig: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """Check a user name and password, for login and for password credentials.

    Return ``{"status": "ok", "groups": [...]}`` to accept (the groups become
    ``:group`` principals), ``{"status": "reject"}`` to refuse, or ``None`` when the user
    is not yours so that other plugins and finally the local password hash decide. The
    user ``root`` is always checked against the local hash only.

    Stops at first non-None result.

    :param username: the user name as sent.
    :param password: the password as sent.
    :param userconfig: the stored user record, or ``None`` if there is no such local user.
    :returns: a status mapping or ``None``.

    .. versionadded:: 0.1
    """


# --- tox results -----------------------------------------------------------------------


@hookspec(firstresult=True)
def cellar_on_toxresult_store(
    request: Request, toxresult: Mapping[str, Any], relpath: str
) -> str | None:
    """A tox result is about to be stored for the release file at ``relpath``.

    Unlike the events below, this runs inside the upload request, before anything is
    written: the caller has the ``toxresult_upload`` permission (the index's
    ``acl_toxresult_upload``), ``relpath`` names a release file of the index, and the
    body passed validation. An implementation decides in one of three ways:

    - return ``None``: no objection; the next plugin is asked, and when none objects
      the result is stored and the client gets ``200`` with a ``toxresultpath``;
    - return a message (a string): *skip*; nothing is stored and the client gets
      ``200`` with that message (``devpi test`` shows it as a warning);
    - raise :class:`cheesecellar.errors.CellarError` (``Forbidden``, ``BadRequest``,
      ...): *refuse*; nothing is stored and the client gets the error's status and
      message.

    Only the ``cheesecellar_toxresults`` plugin calls this hook; with that plugin
    disabled the server takes no tox results at all.
    Stops at first non-None result.

    :param request: the upload request; ``request.authenticated_userid`` is the uploader
        (``None`` when anonymous).
    :param toxresult: the parsed JSON body, as ``tox --result-json`` wrote it. The raw
        bytes are what gets stored.
    :param relpath: the release file's path, ``user/index/+f/.../name-1.0.tar.gz``.
    :returns: ``None`` to let the result be stored, or a message to skip storing it.

    .. versionadded:: 0.1
    """


# --- events (after commit) -------------------------------------------------------------


@hookspec
def cellar_on_commit(serial: int, changes: list[Change]) -> None:
    """A write transaction committed as ``serial`` with ``changes``.

    Runs in the event thread, once per serial, in serial order, also for serials
    committed while the server was down. The typed events below are derived from it.

    :param serial: the commit serial.
    :param changes: the changed keys with their new values (``None`` = deleted).

    .. versionadded:: 0.1
    """


@hookspec
def cellar_on_user_created(username: str, serial: int) -> None:
    """A user was created.

    :param username: the new user's name.
    :param serial: the commit serial.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_on_user_deleted(username: str, serial: int) -> None:
    """A user was deleted, together with all of its indexes.

    :param username: the deleted user's name.
    :param serial: the commit serial.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_on_index_created(indexname: str, ixconfig: Mapping[str, Any], serial: int) -> None:
    """An index was created.

    :param indexname: ``user/index``.
    :param ixconfig: the configuration it was created with.
    :param serial: the commit serial.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_on_index_modified(indexname: str, ixconfig: Mapping[str, Any], serial: int) -> None:
    """An index's configuration changed.

    :param indexname: ``user/index``.
    :param ixconfig: the new configuration.
    :param serial: the commit serial.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_on_index_deleted(indexname: str, serial: int) -> None:
    """An index was deleted, with all of its projects and files.

    :param indexname: ``user/index``.
    :param serial: the commit serial.

    .. versionadded:: 0.1
    """


# --- replication -----------------------------------------------------------------------


@hookspec
def cellar_on_replicated_file(relpath: str, sha256: str, size: int, serial: int) -> None:
    """A replica has the content of a file from its primary, checked and readable.

    Called on a replica only, once the content arrived, matched the sha256 and size that
    the changelog gave, and became visible, so the file can be opened, served, pushed on
    (to a CDN, say) or used to warm a cache. Every blob counts: release files and their
    ``.metadata`` files, doc zips, tox results, and the mirror files the primary cached,
    whether the replica's file pool fetched them or a reader asked first.

    Runs in a thread of the file pool, which waits for it: hand long work to a thread of
    your own. An exception is logged and counted (metric
    ``cellar_replica_file_hook_errors``) and never stops replication.

    :param relpath: the file's path, as in its URL: ``user/index/+f/.../name-1.0.whl``.
    :param sha256: the hex sha256 digest of the content.
    :param size: the content's size in bytes.
    :param serial: the primary's serial whose change named this content (``-1`` in the
        rare case that the replica's changelog no longer tells).

    .. versionadded:: 0.1
    """


# --- search ----------------------------------------------------------------------------


@hookspec(firstresult=True)
def cellar_get_search_backend(registry: Registry) -> SearchBackend | None:
    """Return the search engine of this server.

    Asked once, at start-up, after ``cellar_startup``; the answer is kept as
    ``registry.cellar_search`` and used by ``/+search``, the web UI's search page and the
    XML-RPC ``search`` call of ``pip search``. The built-in ``cheesecellar_search``
    plugin answers with a whoosh index; a plugin registered later (a third-party one)
    answers first and so replaces it. Without an answer, searching answers ``501``.

    The backend must not block requests: keep the index up to date from the changelog
    in a thread of its own (``cellar_on_commit``), and answer searches from what is
    indexed so far.
    Stops at first non-None result.

    :param registry: the application registry (settings, storage, index types).
    :returns: an object with the methods of :class:`cheesecellar.search.SearchBackend`,
        or ``None``.

    .. versionadded:: 0.1
    """


# --- status ----------------------------------------------------------------------------


@hookspec
def cellar_metrics(registry: Registry) -> list[tuple[str, str, float]] | None:
    """Return metrics for ``/+status`` as ``(name, "counter" | "gauge", value)`` tuples.

    :param registry: the application registry.
    :returns: a list of metric tuples, or ``None``.

    .. versionadded:: 0.1
    """


@hookspec
def cellar_status_info(registry: Registry) -> list[Mapping[str, str]] | None:
    """Report problems for ``/+status``: ``[{"status": "warn" | "fatal", "msg": ...}]``.

    :param registry: the application registry.
    :returns: a list of status messages, or ``None``.

    .. versionadded:: 0.1
    """
