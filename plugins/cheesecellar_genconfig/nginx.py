"""The nginx site: a reverse proxy to the server that sends stored files itself."""

from __future__ import annotations

import dataclasses
import re
import shlex
from urllib.parse import urlsplit

from cheesecellar.config import ConfigError
from cheesecellar_genconfig.deployment import Deployment
from cheesecellar_genconfig.quoting import check_writable
from cheesecellar_genconfig.quoting import nginx_word
from cheesecellar_genconfig.render import GeneratedFile
from cheesecellar_genconfig.render import render

FILENAME = "nginx-cellar.conf"
#: Debian's self-signed pair (package ssl-cert), named until a real certificate is given.
SNAKEOIL = ("/etc/ssl/certs/ssl-cert-snakeoil.pem", "/etc/ssl/private/ssl-cert-snakeoil.key")
_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)*")
_SERVER_NAME = re.compile(r"[A-Za-z0-9._*-]+")
_LISTEN = re.compile(r"(\[[0-9A-Fa-f:.]+\]:|[A-Za-z0-9.-]+:)?[0-9]{1,5}")


@dataclasses.dataclass(frozen=True)
class SiteOptions:
    """What the site needs beyond the server's options (gen-config's own options)."""

    server_name: str | None = None
    listen: str | None = None
    ssl_certificate: str | None = None
    ssl_certificate_key: str | None = None


def backend_address(host: str, port: int) -> str:
    """Where nginx reaches the server: its address, or loopback when it listens on all."""
    if host in ("", "0.0.0.0", "*"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host.strip('[]')}]"
    return f"{host}:{port}"


def site_file(deployment: Deployment, site: SiteOptions) -> GeneratedFile:
    return GeneratedFile(FILENAME, render("nginx-cellar.conf.jinja2", context(deployment, site)))


def context(deployment: Deployment, site: SiteOptions) -> dict:
    settings = deployment.settings
    outside = urlsplit(settings.outside_url) if settings.outside_url else None
    prefix = outside.path.rstrip("/") if outside else ""
    if not _PREFIX.fullmatch(prefix):
        raise ConfigError(
            f"the path of --outside-url {settings.outside_url!r} may hold only letters, "
            "digits and ._~- between its slashes"
        )
    ssl = bool(outside and outside.scheme == "https")
    listen = _listen(site.listen, outside)
    if int(listen.rpartition(":")[2]) == settings.port:
        raise ConfigError(
            f"nginx would listen on port {settings.port}, the server's own; "
            "give nginx another with --listen, or the server another --port"
        )
    files_root = None
    if settings.storage_backend[0] == "fs":
        files_root = str(deployment.serverdir / "+files")
    return {
        "serve_command": _serve_command(deployment),
        "upstream": f"cellar_{settings.port}",
        "backend": backend_address(settings.host, settings.port),
        "listen": listen + (" ssl" if ssl else ""),
        "server_name": _server_name(site.server_name, outside),
        "ssl": ssl,
        "ssl_certificate": nginx_word(_checked("--ssl-certificate", site.ssl_certificate, 0)),
        "ssl_certificate_key": nginx_word(
            _checked("--ssl-certificate-key", site.ssl_certificate_key, 1)
        ),
        "max_body_size": settings.max_request_body_size,
        "storage": settings.storage_backend[0],
        "files_root": nginx_word(files_root) if files_root else None,
        "files_root_comment": shlex.quote(files_root or ""),
        "serverdir_comment": shlex.quote(str(deployment.serverdir)),
        "prefix": prefix,
        "prefix_regex": re.escape(prefix),
        "outside_url_header": _outside_url_header(settings.outside_url, prefix),
    }


def _serve_command(deployment: Deployment) -> list[str]:
    """``cellar serve`` and its options as shell lines, for a comment."""
    lines = [["cellar", "serve"], *deployment.serve_arg_groups()]
    return [shlex.join(line) for line in lines]


def _listen(listen: str | None, outside) -> str:
    if listen is None:
        if outside is not None and outside.port:
            return str(outside.port)
        return "443" if outside is not None and outside.scheme == "https" else "80"
    if not _LISTEN.fullmatch(listen):
        raise ConfigError(f"--listen {listen!r} is not PORT, ADDRESS:PORT or [IPv6]:PORT")
    return listen


def _server_name(server_name: str | None, outside) -> str:
    if server_name is None:
        return outside.hostname if outside is not None and outside.hostname else "_"
    names = server_name.split()
    if not names or not all(_SERVER_NAME.fullmatch(name) for name in names):
        raise ConfigError(
            f"--server-name {server_name!r} must be host names (letters, digits, ._*-) "
            "separated by spaces"
        )
    return " ".join(names)


def _checked(flag: str, path: str | None, which: int) -> str:
    return check_writable(flag, path) if path else SNAKEOIL[which]


def _outside_url_header(outside_url: str | None, prefix: str) -> str:
    """The configured outside URL, else the scheme and host the client used."""
    if outside_url:
        return nginx_word(outside_url.rstrip("/"))
    return f'"$scheme://$http_host{prefix}"'
