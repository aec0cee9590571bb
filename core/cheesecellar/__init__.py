"""cheesecellar: a Python package index server for teams, wire-compatible with devpi."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("cheesecellar")

__all__ = ["__version__", "hookimpl"]
