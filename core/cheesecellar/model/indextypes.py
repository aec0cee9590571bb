"""Index types: their configuration keys, defaults, and how input values are converted."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from cheesecellar.errors import BadRequest
from cheesecellar.model.names import normalize_name

NO_DEFAULT = object()

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


def to_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise BadRequest(f"Unknown boolean value {value!r}.")


def to_list(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise BadRequest(f"Unknown list value {value!r}.")
    result = []
    for item in items:
        if not isinstance(item, str):
            raise BadRequest(f"{key!r} must hold strings, got {item!r}")
        item = item.strip()
        if item and item not in result:
            result.append(item)
    return result


def to_acl(key: str, value: Any) -> list[str]:
    specials = {":ANONYMOUS:", ":AUTHENTICATED:"}
    return [v.upper() if v.upper() in specials else v for v in to_list(key, value)]


def to_bases(key: str, value: Any) -> list[str]:
    # devpi-client users write "/emilie/prod"; the stored form has no leading slash.
    return [item.strip("/") for item in to_list(key, value)]


def to_whitelist(key: str, value: Any) -> list[str]:
    return [item if item == "*" else normalize_name(item) for item in to_list(key, value)]


def to_choice(*choices: str) -> Callable[[str, Any], str]:
    def convert(key: str, value: Any) -> str:
        if isinstance(value, str) and value.strip().lower() in choices:
            return value.strip().lower()
        raise BadRequest(f"{key!r} must be one of {', '.join(choices)}, got {value!r}")

    return convert


def to_url(key: str, value: Any) -> str:
    if isinstance(value, str) and value.strip().startswith(("http://", "https://")):
        return value.strip()
    raise BadRequest(f"{key!r} option must be a URL.")


def to_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise BadRequest(f"{key!r} option must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{key!r} option must be an integer") from None
    if number < 0:
        raise BadRequest(f"{key!r} option must not be negative")
    return number


def to_str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{key!r} must be a string")
    return value


def to_any(key: str, value: Any) -> Any:
    return value


def converter_for_default(default: Any) -> Callable[[str, Any], Any]:
    """Plugin keys are converted by the type of their default, as devpi does."""
    if isinstance(default, bool):
        return to_bool
    if isinstance(default, list | tuple):
        return to_list
    return to_any


@dataclasses.dataclass(frozen=True)
class ConfigKey:
    """One configuration key: how to convert input and what a new index gets.

    ``default`` may be a callable taking the owner's name (``acl_upload`` defaults to
    the owner). Keys without a default are absent until set and may be removed.
    """

    name: str
    convert: Callable[[str, Any], Any] = to_any
    default: Any = NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    def default_for(self, owner: str) -> Any:
        return self.default(owner) if callable(self.default) else self.default


@dataclasses.dataclass(frozen=True)
class IndexType:
    """An index type and its configuration keys.

    :param ignored: keys that are accepted and silently dropped (devpi drops ``bases``
        and ``acl_upload`` sent for a mirror).
    :param validate: called with ``(tx, indexname, config)`` after conversion; raises
        :class:`~cheesecellar.errors.BadRequest` for a configuration that cannot work.
    :param reader: reads the projects, versions and links an index of the type holds.
    :param file_source: answers requests for files the index lists but has not stored
        yet: ``respond(request, indexname, config, relpath)`` returns a response or None.
    :param present: ``present(config, privileged)`` returns the configuration as a
        user sees it (a mirror masks the credentials in its URL unless ``privileged``).
    """

    name: str
    keys: tuple[ConfigKey, ...]
    ignored: frozenset[str] = frozenset()
    validate: Callable[[Any, str, dict], None] | None = None
    accepts_uploads: bool = True
    is_mirror: bool = False
    #: Reads the projects an index of this type holds (see
    #: :class:`cheesecellar.model.resolve.StageReader`); None: it holds none yet.
    reader: Any = None
    file_source: Any = None
    present: Callable[[dict, bool], dict] | None = None

    def public_config(self, config: dict, privileged: bool) -> dict:
        return dict(config) if self.present is None else self.present(config, privileged)


COMMON_KEYS = (
    ConfigKey("type", to_str),
    ConfigKey("volatile", to_bool, True),
    ConfigKey("title"),
    ConfigKey("description"),
    ConfigKey("custom_data"),
)


class IndexTypeRegistry:
    """Index types from ``cellar_register_index_types``, with plugin key defaults."""

    def __init__(self, pm) -> None:
        self._types: dict[str, IndexType] = {}
        self._keys: dict[str, dict[str, ConfigKey]] = {}
        self._pm = pm
        pm.hook.cellar_register_index_types(registry=self)

    def add(self, index_type: IndexType) -> None:
        if index_type.name in self._types:
            raise ValueError(f"index type {index_type.name!r} registered twice")
        keys = {key.name: key for key in COMMON_KEYS + index_type.keys}
        for extra in self._pm.hook.cellar_indexconfig_defaults(index_type=index_type.name):
            for name, default in (extra or {}).items():
                if name in keys:
                    raise ValueError(f"index config key {name!r} defined twice")
                if isinstance(default, ConfigKey):  # the plugin converts and checks itself
                    keys[name] = dataclasses.replace(default, name=name)
                    continue
                keys[name] = ConfigKey(name, converter_for_default(default), default)
        self._types[index_type.name] = index_type
        self._keys[index_type.name] = keys

    def update(self, name: str, **changes: Any) -> IndexType:
        """Replace fields of a registered type, e.g. the reader a plugin builds at start-up
        for the server it runs in."""
        updated = dataclasses.replace(self.get(name), **changes)
        self._types[name] = updated
        return updated

    def get(self, name: Any) -> IndexType:
        if not isinstance(name, str) or name not in self._types:
            raise BadRequest(f"unknown index type {name!r}")
        return self._types[name]

    def keys(self, name: str) -> Mapping[str, ConfigKey]:
        return self._keys[name]

    def names(self) -> list[str]:
        return sorted(self._types)
