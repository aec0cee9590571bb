"""Export and import of a whole server: the cheesecellar format and devpi-server dumps."""

from __future__ import annotations

from cheesecellar import hookimpl


@hookimpl
def cellar_register_commands(subparsers):
    from cheesecellar_export.commands import register

    register(subparsers)
