"""``key=value`` arguments of ``cellar user`` and ``cellar index``, and their operations."""

from __future__ import annotations

import dataclasses
import re

from cheesecellar_client.http import ClientError

#: ``key=value``, ``key+=value`` or ``key-=value``; keys are identifiers.
KEYVALUE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P<op>[+-]?=)(?P<value>.*)$", re.S)


@dataclasses.dataclass(frozen=True)
class KeyValue:
    """One ``key<op>value`` argument."""

    key: str
    op: str  # "=", "+=" or "-="
    value: str

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"


def parse_keyvalues(items: list[str], *, operations: bool = False) -> list[KeyValue]:
    """Parse ``key=value`` arguments; with ``operations``, ``+=`` and ``-=`` too.

    :raises ClientError: an argument is not of that form.
    """
    parsed = []
    for item in items:
        found = KEYVALUE.match(item)
        if not found or (found["op"] != "=" and not operations):
            allowed = "key=value, key+=value or key-=value" if operations else "key=value"
            raise ClientError(f"invalid argument {item!r}: expected {allowed}")
        parsed.append(KeyValue(found["key"], found["op"], found["value"]))
    return parsed


def as_dict(items: list[KeyValue]) -> dict[str, str]:
    """``key=value`` arguments as a dict; a key given twice is an error."""
    result: dict[str, str] = {}
    for item in items:
        if item.key in result:
            raise ClientError(f"{item.key!r} is given twice")
        result[item.key] = item.value
    return result
