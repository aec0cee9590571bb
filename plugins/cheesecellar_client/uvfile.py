"""uv's ``uv.toml``: the default index, as an ``[[index]]`` table or ``index-url``."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from cheesecellar_client.http import ClientError

#: The name of the ``[[index]]`` table this client writes and later replaces.
INDEX_NAME = "cellar"
HEADER = re.compile(r"^\s*\[")
INDEX_HEADER = re.compile(r"^\s*\[\[\s*index\s*\]\]\s*(#.*)?$")
INDEX_URL_KEY = re.compile(r"^\s*index-url\s*=")


def parse(text: str, path: Path) -> dict:
    """The parsed file; a file uv could not read either is an error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ClientError(f"{path} is not valid TOML ({exc}); fix it or remove it") from exc


def default_index(text: str, path: Path) -> str | None:
    """The URL uv uses as its default index according to this file, or None."""
    data = parse(text, path)
    for index in data.get("index", []):
        if isinstance(index, dict) and index.get("default"):
            return index.get("url")
    return data.get("index-url")


def set_default_index(text: str, url: str, path: Path) -> str:
    """Make ``url`` the default index; other settings and indexes stay as they are.

    A top-level ``index-url`` is updated in place. Otherwise an ``[[index]]`` table named
    ``cellar`` with ``default = true`` is written (replacing an earlier one of ours).
    """
    data = parse(text, path)
    others = [
        index.get("name")
        for index in data.get("index", [])
        if isinstance(index, dict) and index.get("default") and index.get("name") != INDEX_NAME
    ]
    if others:
        raise ClientError(
            f"{path} already has a default index ({others[0]!r}); remove its "
            "'default = true' to let cellar set one"
        )
    lines = text.splitlines()
    if "index-url" in data:
        lines = _with_top_level_index_url(lines, url)
    else:
        lines = _without_our_table(lines)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            lines.append("")
        lines += ["[[index]]", f'name = "{INDEX_NAME}"', f"url = {json.dumps(url)}"]
        lines.append("default = true")
    result = "\n".join(lines) + "\n"
    if default_index(result, path) != url:
        raise ClientError(f"could not set the default index in {path}; edit it by hand")
    return result


def _with_top_level_index_url(lines: list[str], url: str) -> list[str]:
    result = list(lines)
    for number, line in enumerate(lines):
        if HEADER.match(line):
            break  # tables such as [pip] have an index-url of their own
        if INDEX_URL_KEY.match(line):
            result[number] = f"index-url = {json.dumps(url)}"
    return result


def _without_our_table(lines: list[str]) -> list[str]:
    kept: list[str] = []
    number = 0
    while number < len(lines):
        end = number + 1
        if INDEX_HEADER.match(lines[number]):
            while end < len(lines) and not HEADER.match(lines[end]):
                end += 1
            block = "\n".join(lines[number:end])
            if tomllib.loads(block)["index"][0].get("name") == INDEX_NAME:
                number = end
                continue
        kept.extend(lines[number:end])
        number = end
    return kept
