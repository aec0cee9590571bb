"""What to do with the generated files: the commands, printed after writing them."""

from __future__ import annotations

import shlex
from pathlib import Path

from cheesecellar import __version__
from cheesecellar_genconfig import docker
from cheesecellar_genconfig import nginx
from cheesecellar_genconfig import systemd
from cheesecellar_genconfig.deployment import Deployment


def shell(*words) -> str:
    return shlex.join(str(word) for word in words)


def next_steps(deployment: Deployment, args, kinds: list[str]) -> str:
    sections = []
    if "systemd" in kinds:
        sections.append(systemd_steps(deployment, args.output, args.user))
    if "nginx" in kinds:
        sections.append(nginx_steps(deployment, args.output))
    if "docker" in kinds:
        sections.append(docker_steps(deployment, args.output, args.from_checkout is None))
    return "\n\n".join(sections)


def systemd_steps(deployment: Deployment, output: Path, user: str) -> str:
    serverdir = deployment.serverdir
    lines = [
        "Next steps for systemd, as root:",
        shell("useradd", "--system", "--user-group", "--home-dir", serverdir, "--no-create-home",
              "--shell", "/usr/sbin/nologin", user),
        shell("install", "-d", "-o", user, "-g", user, "-m", "0750", serverdir),
    ]  # fmt: skip
    secretfile = deployment.value("secretfile")
    if secretfile is not None and deployment.role == "replica":
        lines.append(f"# copy the primary's secret to {secretfile}, then:")
    elif secretfile is not None:
        lines.append(shell("cellar", "gen-secret", "--secretfile", secretfile))
    if secretfile is not None:
        lines.append(shell("chown", f"{user}:{user}", secretfile))
    if deployment.role != "replica":
        init = [*deployment.command, "init", *deployment.serve_args(), "--root-passwd", "CHOOSE"]
        lines.append(shell("sudo", "-u", user, *init))
    lines += [
        shell("cp", output / systemd.FILENAME, "/etc/systemd/system/cellar.service"),
        "systemctl daemon-reload && systemctl enable --now cellar",
        "systemctl status cellar; journalctl -u cellar -f",
    ]
    return "\n  ".join(lines)


def nginx_steps(deployment: Deployment, output: Path) -> str:
    lines = [
        "Next steps for nginx, as root:",
        shell("cp", output / nginx.FILENAME, "/etc/nginx/sites-available/cellar.conf"),
        "ln -s ../sites-available/cellar.conf /etc/nginx/sites-enabled/cellar.conf",
    ]
    if deployment.settings.storage_backend[0] == "fs":
        files = deployment.serverdir / "+files"
        lines += [
            "# once the server directory is initialised, let nginx read the stored files:",
            shell("setfacl", "-m", "u:www-data:x", deployment.serverdir),
            shell("setfacl", "-R", "-m", "u:www-data:rX", "-m", "d:u:www-data:rX", files),
        ]
    lines.append("nginx -t && systemctl reload nginx")
    return "\n  ".join(lines)


def docker_steps(deployment: Deployment, output: Path, from_wheel: bool) -> str:
    lines = ["Next steps for docker compose:", shell("cd", output / docker.SUBDIR)]
    if deployment.role == "replica":
        lines.append("# copy the primary's secret here as cellar-secret (chmod 600)")
    elif deployment.role == "primary" or deployment.value("secretfile") is not None:
        lines.append("cellar gen-secret --secretfile cellar-secret")
    if from_wheel:
        lines.append(
            f"# the images install cheesecellar=={__version__} from PIP_INDEX_URL, "
            "or from a wheel you put into wheels/"
        )
    if deployment.role == "replica":
        lines.append("docker compose up -d --build")
    else:
        lines.append("CELLAR_ROOT_PASSWORD='CHOOSE' docker compose up -d --build")
    lines.append("docker compose ps; docker compose logs -f")
    return "\n  ".join(lines)
