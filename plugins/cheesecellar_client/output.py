"""What the client prints: plain lines, warnings, errors, progress bars, and exit codes."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from cheesecellar_client.http import ClientError

#: Exit code of a command stopped with Ctrl-C, as shells report it.
INTERRUPTED = 130
#: Width of the bar itself, in characters.
BAR_WIDTH = 30
#: Seconds between two redraws of a progress bar.
REDRAW_EVERY = 0.1


def out(message: str) -> None:
    """Print a line of a command's output (stdout)."""
    print(message, flush=True)


def warn(message: str) -> None:
    """Print a warning on stderr."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def error(message: str) -> None:
    """Print an error on stderr."""
    print(f"error: {message}", file=sys.stderr, flush=True)


def confirm(question: str, *, assume_yes: bool) -> bool:
    """Ask ``question`` on the terminal; ``-y`` answers yes, and no terminal means no."""
    if assume_yes:
        out(f"{question} (yes/no)? yes (-y)")
        return True
    if not sys.stdin.isatty():
        raise ClientError(f"{question}? cannot ask without a terminal; add -y to confirm")
    answer = input(f"{question} (yes/no)? ").strip().lower()
    return answer in ("y", "yes")


def ask_secret(prompt: str, *, instead: str) -> str:
    """Read a password without echo; without a terminal, fail and say what to give instead."""
    if not sys.stdin.isatty():
        raise ClientError(f"cannot ask for a password without a terminal; give {instead}")
    import getpass

    return getpass.getpass(prompt)


def show_config(url: str, config: dict, *, first: tuple[str, ...] = ()) -> None:
    """Print ``url:`` and then ``  key=value`` lines, ``first`` keys first, the rest sorted."""
    out(f"{url}:")
    rest = sorted(key for key in config if key not in first)
    for key in (*first, *rest):
        if key in config:
            out(f"  {key}={config_value(config[key])}")


def config_value(value: Any) -> str:
    """A config value in ``key=value`` form: lists joined with commas, ``None`` empty."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ",".join(config_value(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def run_command(func: Callable[..., int]) -> Callable[..., int]:
    """Wrap a command: a ClientError becomes its message and exit code, Ctrl-C exits 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return func(*args, **kwargs)
        except ClientError as exc:
            error(exc.message)
            return exc.exit_code
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr, flush=True)
            return INTERRUPTED

    return wrapper


class Progress:
    """A progress bar for a transfer of ``total`` bytes, drawn on stderr when it is a terminal."""

    def __init__(self, total: int | None, label: str) -> None:
        self.total = total if total and total > 0 else None
        self.label = label
        self.done = 0
        self.enabled = sys.stderr.isatty()
        self._drawn_at = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.enabled:
            if exc_type is None:
                self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()

    def advance(self, count: int) -> None:
        """Record ``count`` more bytes and redraw, at most every REDRAW_EVERY seconds."""
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._drawn_at >= REDRAW_EVERY:
            self._drawn_at = now
            self._draw()

    def line(self) -> str:
        """The bar as text: label, bar, percentage and sizes."""
        if self.total is None:
            return f"{self.label} {human_size(self.done)}"
        fraction = min(self.done / self.total, 1.0)
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        sizes = f"{human_size(self.done)}/{human_size(self.total)}"
        return f"{self.label} [{bar}] {fraction:4.0%} {sizes}"

    def _draw(self) -> None:
        sys.stderr.write("\r" + self.line() + "\x1b[K")
        sys.stderr.flush()


def human_size(count: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"
