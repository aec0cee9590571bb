"""``cellar gen-config``: nginx, systemd and docker-compose files for this server's options."""

from __future__ import annotations

from cheesecellar import hookimpl


@hookimpl
def cellar_register_commands(subparsers):
    from cheesecellar_genconfig.command import register

    register(subparsers)
