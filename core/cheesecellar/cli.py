"""The ``cellar`` command: ``init``, ``serve``, ``gen-secret`` and plugin subcommands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

from cheesecellar import __version__
from cheesecellar.auth.secret import read_secret
from cheesecellar.auth.secret import write_secret
from cheesecellar.config import ENV_PREFIX
from cheesecellar.config import ConfigError
from cheesecellar.config import add_server_options
from cheesecellar.config import resolve_settings
from cheesecellar.plugins import CORE_PLUGINS
from cheesecellar.plugins import make_plugin_manager

log = logging.getLogger("cheesecellar")


def _blocked_plugins(argv: list[str]) -> list[str]:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--disable-plugin", action="append", default=[])
    known, _ = pre.parse_known_args(argv)
    from_env = os.environ.get(ENV_PREFIX + "DISABLE_PLUGIN", "")
    names = [*known.disable_plugin, *filter(None, (n.strip() for n in from_env.split(",")))]
    core = sorted(set(names) & set(CORE_PLUGINS))
    if core:
        raise ConfigError(f"core plugins cannot be disabled: {', '.join(core)}")
    return names


def build_parser(pm) -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="cellar", description="cheesecellar package server")
    parser.add_argument("--version", action="version", version=f"cheesecellar {__version__}")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    options = {}

    serve = sub.add_parser("serve", help="run the server (initialises an empty serverdir)")
    options["serve"] = add_server_options(serve, pm)
    serve.set_defaults(func=cmd_serve)

    init = sub.add_parser("init", help="initialise a new server directory")
    options["init"] = add_server_options(init, pm)
    init.add_argument("--root-passwd", help="password of the root user (default: empty)")
    init.add_argument("--root-passwd-hash", help="argon2 hash of the root user's password")
    init.set_defaults(func=cmd_init)

    gen = sub.add_parser("gen-secret", help="write a new secret file, or check one")
    gen.add_argument("--secretfile", type=Path, required=True, help="file to write")
    gen.add_argument("--force", action="store_true", help="replace an existing secret file")
    gen.set_defaults(func=cmd_gen_secret)

    pm.hook.cellar_register_commands(subparsers=sub)
    return parser, options


def cmd_serve(args, options) -> int:
    from cheesecellar.server import serve

    return serve(resolve_settings(options["serve"], args), args.pm)


def cmd_init(args, options) -> int:
    from cheesecellar.serverdir import EMPTY_ROOT_WARNING
    from cheesecellar.serverdir import init_serverdir

    settings = resolve_settings(options["init"], args)
    args.pm.hook.cellar_configure(settings=settings)
    pwhash = args.root_passwd_hash
    if pwhash and args.root_passwd is not None:
        raise ConfigError("give --root-passwd or --root-passwd-hash, not both")
    if pwhash and not pwhash.startswith("$argon2"):
        raise ConfigError("--root-passwd-hash must be an argon2 hash")
    node = init_serverdir(settings, args.pm, root_pwhash=pwhash, root_passwd=args.root_passwd)
    print(f"initialised {settings.serverdir} as {node.role} (uuid {node.uuid})")
    if not (pwhash or args.root_passwd) and node.role != "replica":
        print(EMPTY_ROOT_WARNING, file=sys.stderr)
    return 0


def cmd_gen_secret(args, options) -> int:
    path: Path = args.secretfile
    if path.exists() and not args.force:
        read_secret(path)
        print(f"{path} exists and is a valid secret file (--force replaces it)")
        return 0
    # Written beside the target and renamed over it: a reader never sees half a secret.
    fresh = path.with_name(path.name + ".new")
    fresh.unlink(missing_ok=True)
    write_secret(fresh)
    os.replace(fresh, path)
    read_secret(path)
    print(f"wrote a new secret to {path} (mode 0600)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        with warnings.catch_warnings():
            # pyramid imports pkg_resources, whose deprecation notice would open every command.
            warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
            pm = make_plugin_manager(blocked=_blocked_plugins(argv))
        parser, options = build_parser(pm)
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=logging.DEBUG if args.debug else logging.INFO,
            format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        )
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        args.pm = pm
        return args.func(args, options)
    except ConfigError as exc:
        print(f"cellar: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
