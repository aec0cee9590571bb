"""Server settings: options declared once, resolved once (defaults < file < env < CLI)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import tomllib
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

ENV_PREFIX = "CELLAR_"
ROLES = ("standalone", "primary", "replica")


class ConfigError(Exception):
    """A setting is missing, malformed or inconsistent; the message says which."""


def parse_bool(value: Any) -> bool:
    """Read a boolean from a config file or environment value."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"not a boolean value: {value!r}")


def parse_storage(value: str) -> tuple[str, dict[str, str]]:
    """Split ``name:key=val,key=val`` into the backend name and its settings."""
    name, _, rest = value.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, sep, val = item.partition("=")
        if not sep:
            raise ConfigError(f"--storage option {item!r} is not key=value")
        options[key.strip()] = val.strip()
    return name.strip(), options


def _default_serverdir() -> str:
    """The user's data directory (XDG on Unix), as devpi's ``~/.devpi/server`` analogue."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return str(Path(base) / "cheesecellar" / "server")


def option(*flags: str, help: str, **kwargs: Any) -> Any:
    """Declare a settings field together with its command-line option."""
    default = kwargs.pop("default", None)
    factory = kwargs.pop("default_factory", None)
    meta = {"flags": flags, "help": help, "argparse": kwargs}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved server settings; plugin options live in :meth:`plugin`."""

    serverdir: Path = option(
        "--serverdir",
        default_factory=lambda: Path(_default_serverdir()),
        type=Path,
        help="directory holding the database, the files and the node identity",
    )
    host: str = option("--host", default="127.0.0.1", help="address to listen on")
    port: int = option("--port", default=3141, type=int, help="port to listen on")
    threads: int = option("--threads", default=50, type=int, help="request worker threads")
    outside_url: str | None = option(
        "--outside-url", help="public base URL when the server sits behind a proxy"
    )
    restrict_modify: str | None = option(
        "--restrict-modify",
        help="comma list of users and :groups that alone may create and modify users and indexes",
    )
    secretfile: Path | None = option(
        "--secretfile",
        type=Path,
        help="file with the secret that signs login tokens and authenticates replicas; "
        "at least 32 bytes, mode 0600",
    )
    role: str = option("--role", default="standalone", choices=ROLES, help="role of this node")
    primary_url: str | None = option("--primary-url", help="URL of the primary (replicas)")
    mirror_cache_expiry: int = option(
        "--mirror-cache-expiry",
        default=1800,
        type=int,
        help="seconds a mirrored project page is fresh",
    )
    offline_mode: bool = option(
        "--offline-mode", default=False, action="store_true", help="never contact upstreams"
    )
    storage: str = option("--storage", default="fs", help="storage backend: NAME[:key=value,...]")
    max_request_body_size: int = option(
        "--max-request-body-size",
        default=1024**3,
        type=int,
        help="largest accepted request body in bytes",
    )
    access_log: str | None = option(
        "--access-log",
        metavar="PATH",
        help="write one line per request to PATH ('-' for standard error); off by default",
    )
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def plugin(self, dest: str, default: Any = None) -> Any:
        """Return the resolved value of a plugin option."""
        return self.extra.get(dest, default)

    @property
    def storage_backend(self) -> tuple[str, dict[str, str]]:
        return parse_storage(self.storage)

    @property
    def restrict_modify_principals(self) -> frozenset[str] | None:
        if not self.restrict_modify:
            return None
        return frozenset(p.strip() for p in self.restrict_modify.split(",") if p.strip())


FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.metadata}


@dataclasses.dataclass
class _Declared:
    dest: str
    default: Any
    convert: Callable[[Any], Any]


class OptionParser:
    """An argparse front that records defaults itself so precedence can be applied.

    Every option is added to argparse with ``default=SUPPRESS``: a value present in the
    namespace therefore came from the command line.
    """

    def __init__(self, parser: argparse.ArgumentParser | Any, declared: dict | None = None):
        self._parser = parser
        self.declared: dict[str, _Declared] = {} if declared is None else declared

    def add_argument_group(self, title: str, description: str | None = None) -> OptionParser:
        group = self._parser.add_argument_group(title, description)
        return OptionParser(group, self.declared)

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        default = kwargs.pop("default", None)
        action = self._parser.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)
        if kwargs.get("action") in ("store_true", "store_false"):
            convert = parse_bool
        else:
            convert = kwargs.get("type") or str
        self.declared[action.dest] = _Declared(action.dest, default, convert)


def add_server_options(parser: argparse.ArgumentParser, pm) -> OptionParser:
    """Add core and plugin server options to ``parser``."""
    options = OptionParser(parser)
    options.add_argument(
        "-c", "--configfile", type=Path, help="TOML config file with a [cellar] table"
    )
    options.add_argument(
        "--disable-plugin",
        action="append",
        metavar="NAME",
        help="do not load the plugin NAME (repeatable)",
    )
    for name, field in FIELDS.items():
        meta = field.metadata
        default = field.default if field.default is not dataclasses.MISSING else None
        if field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        options.add_argument(
            *meta["flags"], dest=name, default=default, help=meta["help"], **meta["argparse"]
        )
    pm.hook.cellar_add_options(parser=options.add_argument_group("plugin options"))
    return options


def read_config_file(path: Path) -> dict[str, Any]:
    """Read the ``[cellar]`` table of a TOML config file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    table = data.get("cellar", {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [cellar] must be a table")
    return {key.replace("-", "_"): value for key, value in table.items()}


def resolve_settings(
    options: OptionParser,
    namespace: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every declared option once: defaults < config file < env < command line."""
    environ = os.environ if environ is None else environ
    cli = vars(namespace)
    configfile = cli.get("configfile") or environ.get(ENV_PREFIX + "CONFIGFILE")
    from_file = read_config_file(Path(configfile)) if configfile else {}
    unknown = set(from_file) - set(options.declared)
    if unknown:
        raise ConfigError(
            f"config file {configfile}: unknown settings {', '.join(sorted(unknown))}"
        )
    if "disable_plugin" in from_file:
        # Plugins are blocked before the file is read, so the key would be silently ignored.
        raise ConfigError(
            f"config file {configfile}: disable_plugin cannot be set here; "
            f"use --disable-plugin or {ENV_PREFIX}DISABLE_PLUGIN"
        )
    values = {}
    for dest, declared in options.declared.items():
        values[dest] = _resolve_one(declared, cli, from_file, environ)
    core = {name: values.pop(name) for name in FIELDS}
    values.pop("configfile", None)
    settings = Settings(**core, extra=MappingProxyType(values))
    validate(settings)
    return settings


def _resolve_one(declared: _Declared, cli: Mapping, from_file: Mapping, environ: Mapping):
    dest = declared.dest
    if dest in cli:
        return cli[dest]
    env_name = ENV_PREFIX + dest.upper()
    try:
        if env_name in environ:
            return declared.convert(environ[env_name])
        if dest in from_file:
            return declared.convert(from_file[dest])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad value for {dest}: {exc}") from exc
    return declared.default


def validate(settings: Settings) -> None:
    """Refuse combinations of settings that cannot work."""
    if settings.role not in ROLES:
        raise ConfigError(f"--role must be one of {', '.join(ROLES)}")
    if settings.role == "replica" and not settings.primary_url:
        raise ConfigError("--role replica needs --primary-url")
    if settings.primary_url and not settings.primary_url.startswith(("http://", "https://")):
        raise ConfigError("--primary-url must be an http:// or https:// URL")
    if settings.outside_url and not settings.outside_url.startswith(("http://", "https://")):
        raise ConfigError("--outside-url must be an http:// or https:// URL")
    if not 0 <= settings.port <= 65535:
        raise ConfigError("--port must be between 0 and 65535")
    if settings.threads < 1:
        raise ConfigError("--threads must be at least 1")
    if settings.mirror_cache_expiry < 0:
        raise ConfigError("--mirror-cache-expiry must not be negative")
    parse_storage(settings.storage)


def settings_for_tests(serverdir: Path, **overrides: Any) -> Settings:
    """Settings with defaults for ``serverdir`` and the given overrides (no parsing)."""
    extra = overrides.pop("extra", {})
    settings = Settings(serverdir=Path(serverdir), extra=MappingProxyType(dict(extra)), **overrides)
    validate(settings)
    return settings
