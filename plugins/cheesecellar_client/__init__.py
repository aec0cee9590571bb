"""The ``cellar`` client: ``use``, ``login``, ``user``, ``index``, ``list`` and the rest."""

from __future__ import annotations

from cheesecellar import hookimpl


@hookimpl
def cellar_register_commands(subparsers):
    from cheesecellar_client.commands import register_all

    register_all(subparsers)
