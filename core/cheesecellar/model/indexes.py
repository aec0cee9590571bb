"""Indexes: create, read, modify (dict merge or key=value operations), delete, sro."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

from cheesecellar.errors import BadRequest
from cheesecellar.errors import Conflict
from cheesecellar.errors import Forbidden
from cheesecellar.errors import NotFound
from cheesecellar.model import keys
from cheesecellar.model import releases
from cheesecellar.model.indextypes import IndexType
from cheesecellar.model.indextypes import IndexTypeRegistry
from cheesecellar.model.names import check_name

#: Keys a client may send that are not configuration and are dropped.
DERIVED_KEYS = ("projects", "name", "user")


def get_index(tx, username: str, indexname: str) -> dict | None:
    return tx.get(keys.index(username, indexname))


def require_index(tx, username: str, indexname: str) -> dict:
    config = get_index(tx, username, indexname)
    if config is None:
        raise NotFound(f"index {username}/{indexname} does not exist")
    return config


def _unknown(unknown: Mapping[str, Any]) -> BadRequest:
    listed = ", ".join(f"{k}={v}" for k, v in sorted(unknown.items(), key=lambda kv: kv[0]))
    return BadRequest(f"indexconfig got unexpected keyword arguments: {listed}")


def build_config(
    types: IndexTypeRegistry, index_type: IndexType, owner: str, given: Mapping[str, Any]
) -> dict:
    """Convert ``given`` for ``index_type``; fill defaults; reject unknown keys."""
    spec = types.keys(index_type.name)
    unknown = {
        k: v
        for k, v in given.items()
        if k not in spec and k not in index_type.ignored and k not in DERIVED_KEYS
    }
    if unknown:
        raise _unknown(unknown)
    config = {"type": index_type.name}
    for name, key in spec.items():
        if name == "type":
            continue
        if name in given:
            config[name] = key.convert(name, given[name])
        elif key.has_default:
            config[name] = key.default_for(owner)
    return config


def create_index(tx, types: IndexTypeRegistry, username: str, indexname: str, body: Any) -> dict:
    """Create ``username/indexname`` from a PUT body."""
    check_name("index", indexname)
    if not isinstance(body, dict):
        raise BadRequest("index config must be a JSON object")
    if tx.get(keys.user(username)) is None:
        raise NotFound(f"no user {username!r}")
    if get_index(tx, username, indexname) is not None:
        raise Conflict(f"index '{username}/{indexname}' exists")
    index_type = types.get(body.get("type", "stage"))
    config = build_config(types, index_type, username, body)
    _validate(tx, index_type, f"{username}/{indexname}", config)
    tx.set(keys.index(username, indexname), config)
    return config


def _validate(tx, index_type: IndexType, name: str, config: dict) -> None:
    if index_type.validate is not None:
        index_type.validate(tx, name, config)


def modify_index(tx, types: IndexTypeRegistry, username: str, indexname: str, body: Any) -> dict:
    """Apply a PATCH body: a dict merged into the config, or a list of operations."""
    old = require_index(tx, username, indexname)
    index_type = types.get(old["type"])
    if isinstance(body, dict):
        if body.get("type") == "indexconfig" and isinstance(body.get("result"), dict):
            body = body["result"]  # a GET reply sent back as it was
        merged = {**old, **body}
    elif isinstance(body, list) and all(isinstance(op, str) for op in body):
        merged = apply_operations(types, index_type, username, old, body)
    else:
        raise BadRequest("index modification must be a JSON object or a list of strings")
    if merged.get("type", old["type"]) != old["type"]:
        raise BadRequest("the 'type' of an index can't be changed")
    spec = types.keys(index_type.name)
    # Keys of plugins that are no longer installed are kept as they are.
    leftover = {k: v for k, v in old.items() if k not in spec}
    given = {k: v for k, v in merged.items() if v is not _DROP and k not in leftover}
    config = {**build_config(types, index_type, username, given), **leftover}
    _validate(tx, index_type, f"{username}/{indexname}", config)
    if config != old:
        tx.set(keys.index(username, indexname), config)
    return config


#: Marks a key removed by ``key-=``; build_config then leaves it out.
_DROP = object()


def apply_operations(
    types: IndexTypeRegistry, index_type: IndexType, owner: str, old: dict, ops: list[str]
) -> dict:
    """Apply ``key=value``, ``key+=value``, ``key-=value`` and ``key-=`` in order."""
    spec = types.keys(index_type.name)
    config = dict(old)
    for op in ops:
        key, kind, value = _split_operation(op)
        if key not in spec:
            if key in index_type.ignored:
                continue
            raise _unknown({key: value})
        convert = spec[key].convert
        if kind == "=":
            config[key] = convert(key, value)
        elif kind == "-=" and value == "":
            if spec[key].has_default:
                raise BadRequest("Default values can't be removed.")
            config[key] = _DROP
        elif kind == "+=":
            config[key] = _list_add(key, config, convert(key, value))
        else:
            config[key] = _list_remove(key, config, convert(key, value))
    return config


def _split_operation(op: str) -> tuple[str, str, str]:
    key, sep, value = op.partition("=")
    if not sep:
        return op.strip(), "=", ""  # a bare key sets the empty string, as in devpi
    if not key.strip():
        raise BadRequest(
            f"invalid modification {op!r}: expected key=value, key+=value or key-=value"
        )
    if key.endswith(("+", "-")):
        return key[:-1].strip(), key[-1] + "=", value
    return key.strip(), "=", value


def _current_list(key: str, config: dict) -> list:
    current = config.get(key, _DROP)
    if current is _DROP:
        raise BadRequest(
            f"The {key!r} setting is not set, so it can't be changed with "
            "+= or -=; set it with '=' first."
        )
    if not isinstance(current, list):
        raise BadRequest(f"The {key!r} setting is not a list")
    return list(current)


def _list_add(key: str, config: dict, values: Any) -> list:
    current = _current_list(key, config)
    for value in values if isinstance(values, list) else [values]:
        if value not in current:
            current.append(value)
    return current


def _list_remove(key: str, config: dict, values: Any) -> list:
    current = _current_list(key, config)
    for value in values if isinstance(values, list) else [values]:
        if value not in current:
            raise BadRequest(f"The {key!r} setting doesn't have value {value!r}")
        current.remove(value)
    return current


def delete_index(tx, username: str, indexname: str) -> None:
    """Delete an index with all its contents; refused for a non-volatile one."""
    config = require_index(tx, username, indexname)
    if not config.get("volatile", True):
        raise Forbidden(f"index {username}/{indexname} non-volatile, cannot delete")
    remove_index_records(tx, username, indexname)


def remove_index_records(tx, username: str, indexname: str) -> None:
    """Remove every record that belongs to an index: its projects and its config."""
    releases.purge_index(tx, f"{username}/{indexname}")
    tx.delete(keys.index(username, indexname))


def sro(tx, types: IndexTypeRegistry, name: str) -> Iterator[tuple[str, dict]]:
    """Stage resolution order: breadth-first over bases, every mirror after every stage."""
    seen = {name}
    queue = deque([name])
    mirrors = []
    while queue:
        current = queue.popleft()
        user, _, index = current.partition("/")
        config = get_index(tx, user, index)
        if config is None:
            continue
        yield current, config
        for base in config.get("bases", ()):
            if base in seen:
                continue
            seen.add(base)
            base_user, _, base_index = base.partition("/")
            base_config = get_index(tx, base_user, base_index)
            if base_config is None:
                continue
            if types.get(base_config["type"]).is_mirror:
                mirrors.append((base, base_config))
            else:
                queue.append(base)
    yield from mirrors
