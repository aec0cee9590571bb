"""Adds every client command to ``cellar``; each command module has ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib

#: Command modules in the order ``cellar --help`` lists them.
COMMAND_MODULES = (
    "use",
    "login",
    "users",
    "indexes",
    "upload",
    "listing",
    "remove",
    "tester",
    "push",
    "yank",
    "refresh",
    "getjson",
)


def register_all(subparsers: argparse._SubParsersAction) -> None:
    """Call ``register(subparsers)`` of each command module."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"cheesecellar_client.{name}").register(subparsers)
