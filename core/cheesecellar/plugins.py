"""The one plugin manager: built-in plugins, entry-point plugins, blocking by name."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import pluggy

from cheesecellar import hookspecs

#: Core modules that implement hooks like any plugin would; they cannot be disabled.
CORE_PLUGINS = (
    "cheesecellar.auth.plugin",
    "cheesecellar.model.stage",
    "cheesecellar.storage_memory",
)

#: Built-in plugins, registered before third-party ones; each can be disabled by name.
BUILTIN_PLUGINS = (
    "cheesecellar_fs",
    "cheesecellar_mirror",
    "cheesecellar_toxresults",
    "cheesecellar_search",
    "cheesecellar_replica",
    "cheesecellar_web",
    "cheesecellar_client",
    "cheesecellar_export",
    "cheesecellar_jenkins",
    "cheesecellar_genconfig",
)

ENTRY_POINT_GROUP = "cheesecellar"


def make_plugin_manager(
    *,
    extra: Iterable[object] = (),
    blocked: Iterable[str] = (),
    entry_points: bool = True,
) -> pluggy.PluginManager:
    """Build the plugin manager with core, built-in, extra and entry-point plugins.

    :param extra: plugin objects to register after the built-ins (tests use this).
    :param blocked: plugin names to leave out (``--disable-plugin``).
    :param entry_points: whether to load plugins from the ``cheesecellar`` group.
    """
    pm = pluggy.PluginManager("cheesecellar")
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    for modname in CORE_PLUGINS + BUILTIN_PLUGINS:
        if not pm.is_blocked(modname):
            pm.register(importlib.import_module(modname), modname)
    for plugin in extra:
        pm.register(plugin)
    if entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    pm.check_pending()
    return pm


def register_server_plugin(pm: pluggy.PluginManager, name: str, plugin: object) -> None:
    """Register a plugin object that belongs to one server (it holds that server's state,
    e.g. to receive its ``cellar_on_*`` events), replacing the one registered under
    ``name`` when the application is built again with the same plugin manager."""
    if pm.get_plugin(name) is not None:
        pm.unregister(name=name)
    pm.register(plugin, name=name)


def plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """Names of the registered plugins, for ``/+status`` and ``--version``."""
    return sorted(name for name, plugin in pm.list_name_plugin() if plugin is not None)
