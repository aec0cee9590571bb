"""``cellar gen-config``: write an nginx site, a systemd unit and docker compose files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cheesecellar.config import ConfigError
from cheesecellar.config import resolve_settings
from cheesecellar_genconfig import docker
from cheesecellar_genconfig import nginx
from cheesecellar_genconfig import systemd
from cheesecellar_genconfig.deployment import make_deployment
from cheesecellar_genconfig.deployment import server_options
from cheesecellar_genconfig.nextsteps import next_steps
from cheesecellar_genconfig.quoting import check_writable
from cheesecellar_genconfig.render import GeneratedFile
from cheesecellar_genconfig.render import write_files

KINDS = ("nginx", "systemd", "docker")
DESCRIPTION = """\
Write configuration files for running this server: an nginx site that proxies to it and
sends stored files from disk (nginx-cellar.conf), a systemd unit (cellar.service) and a
docker compose deployment (docker/). They are made for the server options given here,
read like those of 'cellar serve' (command line, CELLAR_* environment, -c config file).
Nothing is installed: the command prints the next steps.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    # The server's own options come from 'cellar serve', plugin options included.
    parser = subparsers.add_parser(
        "gen-config",
        parents=[subparsers.choices["serve"]],
        add_help=False,
        help="write nginx, systemd and docker compose files for these server options",
        description=DESCRIPTION,
    )
    own = parser.add_argument_group("gen-config options")
    own.add_argument(
        "--output", type=Path, default=Path("gen-config"), metavar="DIR",
        help="directory to write into (default: ./gen-config)",
    )  # fmt: skip
    own.add_argument("--force", action="store_true", help="replace files that exist")
    own.add_argument("--only", action="append", choices=KINDS, help="write only these (repeatable)")
    own.add_argument("--server-name", help="nginx server_name (default: the outside URL's host)")
    own.add_argument(
        "--listen", help="nginx listen PORT or ADDRESS:PORT (default: the outside URL's, or 80)"
    )
    own.add_argument("--ssl-certificate", metavar="PATH", help="nginx certificate (https)")
    own.add_argument("--ssl-certificate-key", metavar="PATH", help="nginx certificate key")
    own.add_argument(
        "--user", default="cellar", help="the user the server runs as (systemd, docker)"
    )
    own.add_argument(
        "--build-index-url", default=docker.DEFAULT_BUILD_INDEX, metavar="URL",
        help="the index docker image builds install from (default: %(default)s)",
    )  # fmt: skip
    own.add_argument(
        "--from-checkout", type=Path, metavar="DIR",
        help="build the docker images from this source checkout, which must hold --output",
    )  # fmt: skip
    parser.set_defaults(func=cmd_gen_config, genconfig_parser=parser)


def cmd_gen_config(args, options) -> int:
    try:
        settings = resolve_settings(options["serve"], args)
        args.pm.hook.cellar_configure(settings=settings)
        flags = server_options(args.genconfig_parser, options["serve"])
        deployment = make_deployment(settings, flags, options["serve"])
        kinds = args.only or list(KINDS)
        files = generated_files(deployment, args, kinds)
        written = write(args.output, files, args.force)
    except ConfigError as exc:
        print(f"cellar gen-config: error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print()
    print(next_steps(deployment, args, kinds))
    return 0


def generated_files(deployment, args, kinds: list[str]) -> list[GeneratedFile]:
    """Render every file asked for; nothing is written until all of them rendered."""
    files = []
    if "nginx" in kinds:
        site = nginx.SiteOptions(
            args.server_name, args.listen, args.ssl_certificate, args.ssl_certificate_key
        )
        files.append(nginx.site_file(deployment, site))
    if "systemd" in kinds:
        files.append(systemd.unit_file(deployment, args.user))
    if "docker" in kinds:
        index_url = check_writable("--build-index-url", args.build_index_url)
        build = docker.Build(systemd.check_user(args.user), index_url, args.from_checkout)
        files += docker.docker_files(deployment, build, args.output)
    return files


def write(output: Path, files: list[GeneratedFile], force: bool) -> list[Path]:
    try:
        return write_files(output, files, force=force)
    except OSError as exc:
        raise ConfigError(f"cannot write into {output}: {exc.strerror or exc}") from exc
