"""The docker compose deployment: compose file, Dockerfiles, entrypoints, health check.

``contrib/docker`` in the source tree is this output for the seed's deployment (a primary
and a replica built from the checkout); a test renders it and compares.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from pathlib import Path

from cheesecellar import __version__
from cheesecellar.config import ConfigError
from cheesecellar_genconfig.deployment import Deployment
from cheesecellar_genconfig.quoting import compose_default
from cheesecellar_genconfig.quoting import compose_value
from cheesecellar_genconfig.render import EXECUTABLE
from cheesecellar_genconfig.render import GeneratedFile
from cheesecellar_genconfig.render import render

SUBDIR = "docker"
CONTAINER_PORT = 3141
DEFAULT_MIRROR_URL = "https://pypi.org/simple/"
DEFAULT_BUILD_INDEX = "https://pypi.org/simple"
#: Options the compose file and the entrypoint set themselves; the rest pass as variables.
HANDLED = (
    *("serverdir", "host", "port", "role", "primary_url", "secretfile", "access_log"),
    *("mirror_url", "no_root_pypi", "mirror_cache_expiry", "outside_url"),
)


@dataclasses.dataclass(frozen=True)
class Variable:
    """A line of a service's ``environment:``, with the comment lines above it."""

    name: str
    value: str
    comments: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    role: str
    publish: str
    volume: str
    environment: tuple[Variable, ...]
    depends_on: str | None = None
    image_env: tuple[tuple[str, str], ...] = ()

    @property
    def dockerfile(self) -> str:
        return ("cellar" if self.role == "standalone" else self.role) + ".dockerfile"

    @property
    def image(self) -> str:
        suffix = "" if self.role == "standalone" else f"-{self.role}"
        return f"cheesecellar{suffix}:local"

    @property
    def entrypoint(self) -> str:
        return "replica_entrypoint.sh" if self.role == "replica" else "entrypoint.sh"


@dataclasses.dataclass(frozen=True)
class Build:
    """How images get cheesecellar: a released wheel, or the source checkout ``checkout``."""

    user: str = "cellar"
    index_url: str = DEFAULT_BUILD_INDEX
    checkout: Path | None = None


def docker_files(deployment: Deployment, build: Build, output: Path) -> list[GeneratedFile]:
    """Every file of the compose deployment, under ``docker/`` in ``output``."""
    context = compose_context(deployment, build, output / SUBDIR)
    files = [
        GeneratedFile("docker-compose.yml", render("docker/docker-compose.yml.jinja2", context))
    ]
    for service in context["services"]:
        text = render("docker/service.dockerfile.jinja2", {**context, "service": service})
        files.append(GeneratedFile(service.dockerfile, text))
        if build.checkout is not None:
            ignore = render("docker/checkout.dockerignore.jinja2", context)
            files.append(GeneratedFile(service.dockerfile + ".dockerignore", ignore))
    if build.checkout is None:
        files.append(
            GeneratedFile(".dockerignore", render("docker/wheels.dockerignore.jinja2", {}))
        )
        files.append(
            GeneratedFile("wheels/README.txt", render("docker/wheels-README.txt.jinja2", context))
        )
    for script in ("entrypoint.sh", "replica_entrypoint.sh"):
        files.append(GeneratedFile(script, render(f"docker/{script}.jinja2", {}), EXECUTABLE))
    files.append(GeneratedFile("healthcheck.py", render("docker/healthcheck.py.jinja2", {})))
    files.append(GeneratedFile(".gitignore", render("docker/gitignore.jinja2", {})))
    return [dataclasses.replace(item, relpath=f"{SUBDIR}/{item.relpath}") for item in files]


def compose_context(deployment: Deployment, build: Build, dockerdir: Path) -> dict:
    context, prefix = ".", ""
    if build.checkout is not None:
        context, prefix = checkout_paths(build.checkout, dockerdir)
    services = _services(deployment)
    secret = deployment.role != "standalone" or deployment.value("secretfile") is not None
    if not secret:
        services[0] = dataclasses.replace(
            services[0], image_env=(*services[0].image_env, ("CELLAR_SHARED_SECRET", '""'))
        )
    return {
        "header": _header(deployment, build, secret),
        "services": services,
        "secret": secret,
        "checkout": build.checkout is not None,
        "context": context,
        "prefix": prefix,
        "user": build.user,
        "version": __version__,
        "build_index_default": build.index_url,
        "build_index_url": compose_default("PIP_INDEX_URL", build.index_url),
    }


def checkout_paths(checkout: Path, dockerdir: Path) -> tuple[str, str]:
    """The build context seen from ``dockerdir``, and ``dockerdir`` seen from the context."""
    checkout = Path(os.path.abspath(checkout))
    dockerdir = Path(os.path.abspath(dockerdir))
    try:
        name = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]["name"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        name = None
    if name != "cheesecellar":
        raise ConfigError(f"--from-checkout {checkout} is not a cheesecellar source checkout")
    if not dockerdir.is_relative_to(checkout):
        raise ConfigError(
            f"with --from-checkout the docker files must be inside the checkout, "
            f"and {dockerdir} is not in {checkout}"
        )
    return os.path.relpath(checkout, dockerdir), dockerdir.relative_to(checkout).as_posix() + "/"


def _services(deployment: Deployment) -> list[Service]:
    """The seed's primary and replica; one standalone server; or a replica of another host."""
    if deployment.role == "replica":
        return [_replica_of_another_host(deployment)]
    if deployment.role == "standalone":
        return [_standalone(deployment)]
    return _primary_and_replica(deployment)


def _expiry(deployment: Deployment, *comments: str) -> Variable:
    seconds = str(deployment.settings.mirror_cache_expiry)
    return Variable(
        "CELLAR_MIRROR_CACHE_EXPIRY",
        compose_default("CELLAR_MIRROR_CACHE_EXPIRY", seconds),
        comments,
    )


def _replica_of_another_host(deployment: Deployment) -> Service:
    follows = Variable(
        "CELLAR_PRIMARY_URL",
        compose_value(deployment.settings.primary_url),
        ("The primary this replica follows (--primary-url).",),
    )
    env = (follows, _expiry(deployment), *_outside_url(deployment), *_extra_variables(deployment))
    publish = _publish(deployment.settings, "REPLICA", 0)
    return Service("cellar-replica", "replica", publish, "cellar_replica_data", env)


def _standalone(deployment: Deployment) -> Service:
    env = (
        *_first_start(deployment), _expiry(deployment), *_outside_url(deployment),
        *_extra_variables(deployment),
    )  # fmt: skip
    publish = _publish(deployment.settings, "SERVER", 0)
    return Service(
        "cellar", "standalone", publish, "cellar_data", env,
        image_env=(("CELLAR_ROLE", "standalone"),),
    )  # fmt: skip


def _primary_and_replica(deployment: Deployment) -> list[Service]:
    extra = _extra_variables(deployment)
    expiry = _expiry(
        deployment, "Seconds a mirrored project page stays fresh (cellar's own default is 1800)."
    )
    env = (*_first_start(deployment), expiry, *_outside_url(deployment), *extra)
    publish = _publish(deployment.settings, "PRIMARY", 0)
    primary = Service("cellar-primary", "primary", publish, "cellar_primary_data", env)
    follows = Variable(
        "CELLAR_PRIMARY_URL",
        f"http://cellar-primary:{CONTAINER_PORT}",
        ("The primary, by its service name on cellar-net and its container port.",),
    )
    replica = Service(
        "cellar-replica", "replica", _publish(deployment.settings, "REPLICA", 1),
        "cellar_replica_data", (follows, _expiry(deployment), *extra),
        depends_on="cellar-primary",
    )  # fmt: skip
    return [primary, replica]


def _first_start(deployment: Deployment) -> list[Variable]:
    """The settings ``cellar init`` uses on the first start of a primary or standalone."""
    found = [
        Variable(
            "CELLAR_ROOT_PASSWORD",
            "${CELLAR_ROOT_PASSWORD:-}",
            (
                "root's password, set on the first start only (empty: an empty password, with a",
                "warning in the log). CELLAR_ROOT_PASSWORD_FILE may name a file instead.",
            ),
        )
    ]
    if deployment.value("no_root_pypi"):
        found.append(
            Variable("CELLAR_NO_ROOT_PYPI", '"1"', ("No root/pypi mirror (--no-root-pypi).",))
        )
        return found
    mirror_url = deployment.value("mirror_url") or DEFAULT_MIRROR_URL
    found.append(
        Variable(
            "CELLAR_MIRROR_URL",
            compose_default("CELLAR_MIRROR_URL", mirror_url),
            (
                "The upstream of root/pypi, set on the first start only. TUNA, for example:",
                "https://pypi.tuna.tsinghua.edu.cn/simple",
            ),
        )
    )
    return found


def _outside_url(deployment: Deployment) -> list[Variable]:
    outside_url = deployment.settings.outside_url
    if not outside_url:
        return []
    comments = ("The URL clients reach this server at, behind a proxy (--outside-url).",)
    return [Variable("CELLAR_OUTSIDE_URL", compose_value(outside_url), comments)]


def _extra_variables(deployment: Deployment) -> list[Variable]:
    found = []
    if deployment.value("access_log") is not None:
        comments = ("One line per request, to standard error: `docker compose logs`.",)
        found.append(Variable("CELLAR_ACCESS_LOG", '"-"', comments))
    for index, (option, name, value) in enumerate(deployment.environment(skip=HANDLED)):
        comments = ["Further server options (cellar reads every CELLAR_<OPTION>)."][: index == 0]
        if option.is_path:
            comments.append(f"{option.flag} names a file: mount it at this path in the container.")
        found.append(Variable(name, compose_value(value), tuple(comments)))
    return found


def _publish(settings, which: str, offset: int) -> str:
    """``[ADDRESS:]${CELLAR_<WHICH>_PORT:-PORT}:3141``: the host port, bound like --host."""
    port = settings.port + offset
    if port > 65535:
        raise ConfigError(f"--port {settings.port} leaves no port for the replica (port + 1)")
    host_port = compose_default(f"CELLAR_{which}_PORT", str(port))
    return f"{_bind_address(settings.host)}{host_port}:{CONTAINER_PORT}"


def _bind_address(host: str) -> str:
    if host in ("", "0.0.0.0", "::", "*"):
        return ""
    if host == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ConfigError(
            f"--host {host!r}: docker publishes ports on IP addresses only; give one"
        ) from None
    return f"[{address}]:" if address.version == 6 else f"{address}:"


def _header(deployment: Deployment, build: Build, secret: bool) -> list[str]:
    start = ["  docker compose up -d --build"]
    make_secret = ["  cellar gen-secret --secretfile cellar-secret"]
    if deployment.role == "replica":
        return [
            f"a cheesecellar replica of {deployment.settings.primary_url}, with its own volume.",
            "Start it from this directory, with a copy of the primary's secret here as",
            "cellar-secret (mode 0600):",
            *start,
        ]
    if deployment.role == "standalone":
        lines = ["cheesecellar as one server (standalone) with its own volume. Start it from this"]
        if secret:
            return [*lines, "directory, after creating its secret:", *make_secret, *start]
        return [*lines, "directory:", *start]
    lines = [
        "cheesecellar as a primary and a read-only replica, each with its own volume, sharing a",
    ]
    if build.checkout is not None:
        return [
            *lines,
            "secret file. Start it from this directory, after creating the secret (see README.md):",
            *start,
        ]
    return [
        *lines,
        "secret file. Start it from this directory, after creating the secret:",
        *make_secret,
        *start,
    ]
