"""Editing one section of an INI file (pip.conf) line by line, keeping comments and layout."""

from __future__ import annotations

import re
from collections.abc import Callable

SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
OPTION = re.compile(r"^(?P<key>[^\s=:#;][^=:]*?)\s*[=:]\s*(?P<value>.*)$")

#: Gets the option's current value (None when absent) and returns the new one.
Updater = Callable[[str | None], str]


def option_name(key: str) -> str:
    """pip reads ``index_url`` and ``index-url`` alike."""
    return key.strip().lower().replace("_", "-")


def read_option(text: str, section: str, key: str) -> str | None:
    """The value of ``key`` in ``[section]``, continuation lines joined, or None."""
    lines = text.splitlines()
    start, end = _section_bounds(lines, section)
    if start is None:
        return None
    for _, _, value in _options(lines, start, end):
        if value[0] == option_name(key):
            return value[1]
    return None


def update_section(text: str, section: str, updates: dict[str, Updater]) -> str:
    """Set options of ``[section]``, adding the section and options that are missing."""
    lines = text.splitlines()
    start, end = _section_bounds(lines, section)
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines.append(f"[{section}]")
        start = end = len(lines)
    pending = dict(updates)
    # Replace from the bottom up so earlier line numbers stay valid.
    for first, last, (name, value) in reversed(list(_options(lines, start, end))):
        key = next((k for k in pending if option_name(k) == name), None)
        if key is not None:
            lines[first:last] = [f"{key} = {pending.pop(key)(value)}"]
    start, end = _section_bounds(lines, section)
    # After the section's last option: comments further down belong to the next section.
    insert_at = max((last for _, last, _ in _options(lines, start, end)), default=start)
    lines[insert_at:insert_at] = [f"{key} = {update(None)}" for key, update in pending.items()]
    return "\n".join(lines) + "\n"


def _section_bounds(lines: list[str], section: str) -> tuple[int | None, int]:
    start = None
    for number, line in enumerate(lines):
        found = SECTION.match(line)
        if not found:
            continue
        if start is not None:
            return start, number
        if found["name"].strip() == section:
            start = number + 1
    return start, len(lines)


def _options(lines: list[str], start: int, end: int):
    """``(first line, line after the last, (name, value))`` for each option of a section."""
    number = start
    while number < end:
        found = OPTION.match(lines[number])
        if not found:
            number += 1
            continue
        last = number + 1
        parts = [found["value"].strip()]
        while last < end and lines[last][:1].isspace() and lines[last].strip():
            parts.append(lines[last].strip())
            last += 1
        value = "\n".join(part for part in parts if part)
        yield number, last, (option_name(found["key"]), value)
        number = last
