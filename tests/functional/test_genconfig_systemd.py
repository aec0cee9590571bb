"""The systemd unit ``cellar gen-config`` writes: the server's options, a user, hardening."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cheesecellar.cli import main as cellar_main

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("CELLAR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def unit_for(capsys, *args: str) -> str:
    code = cellar_main(["gen-config", "--only", "systemd", "--force", *args])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    return (Path("gen-config") / "cellar.service").read_text()


def directives(unit: str) -> dict[str, list[str]]:
    """``Key=value`` lines, continuation lines joined, by key."""
    found: dict[str, list[str]] = {}
    joined = unit.replace("\\\n", " ")
    for line in joined.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(" ".join(value.split()))
    return found


def exec_start(unit: str) -> str:
    [command] = directives(unit)["ExecStart"]
    return command


def verify(unit_path: Path) -> None:
    """``systemd-analyze verify``: exit 0 and no complaint about the unit."""
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(unit_path)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in done.stderr.splitlines() if unit_path.name in line]
    assert done.returncode == 0 and not complaints, done.stderr


def test_a_standalone_server_runs_this_cellar_as_its_own_user(capsys, tmp_path):
    unit = unit_for(capsys, "--serverdir", "/var/lib/cellar", "--user", "pkgindex")
    found = directives(unit)
    beside_python = Path(sys.executable).parent / "cellar"
    assert exec_start(unit) == (
        f"{beside_python} serve --serverdir /var/lib/cellar --host 127.0.0.1 --port 3141"
    )
    assert found["User"] == ["pkgindex"] and found["Group"] == ["pkgindex"]
    assert found["Restart"] == ["on-failure"]
    assert found["ReadWritePaths"] == ["/var/lib/cellar"]
    for key, value in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
        ("UMask", "0027"),
        ("WantedBy", "multi-user.target"),
    ]:
        assert found[key] == [value], key
    assert "AmbientCapabilities" not in found
    assert "Description=cheesecellar package index (standalone)" in unit


def test_a_replica_unit_names_its_primary_and_the_secret(capsys):
    unit = unit_for(
        capsys, "--serverdir", "/var/lib/cellar", "--role", "replica", "--primary-url",
        "http://primary.example:3141", "--secretfile", "/etc/cellar/secret",
    )  # fmt: skip
    command = exec_start(unit)
    assert "--role replica" in command
    assert "--primary-url http://primary.example:3141" in command
    assert "--secretfile /etc/cellar/secret" in command
    assert (
        "# The secret shared with the primary (--secretfile): owned by cellar, mode 0600." in unit
    )
    assert "Description=cheesecellar package index (replica)" in unit


def test_a_primary_passes_every_changed_option(capsys):
    unit = unit_for(
        capsys, "--serverdir", "/srv/p", "--role", "primary", "--secretfile", "/etc/s",
        "--host", "0.0.0.0", "--port", "4000", "--threads", "80", "--offline-mode",
        "--mirror-url", "https://pypi.tuna.tsinghua.edu.cn/simple/", "--outside-url",
        "https://pypi.example.com/", "--disable-plugin", "cheesecellar_jenkins",
    )  # fmt: skip
    command = exec_start(unit)
    for expected in (
        "--host 0.0.0.0 --port 4000",
        "--threads 80",
        "--offline-mode",
        "--mirror-url https://pypi.tuna.tsinghua.edu.cn/simple/",
        "--outside-url https://pypi.example.com/",
        "--disable-plugin cheesecellar_jenkins",
        "--role primary",
    ):
        assert expected in command
    assert "--mirror-cache-expiry" not in command  # options at their defaults are left out
    assert "shared with the replicas" in unit


def test_a_port_below_1024_keeps_the_one_capability(capsys):
    found = directives(
        unit_for(capsys, "--serverdir", "/srv/c", "--port", "80", "--listen", "8080")
    )
    assert found["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    assert found["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]


def test_the_access_log_directory_is_writable_and_homes_read_only_when_used(capsys):
    found = directives(
        unit_for(capsys, "--serverdir", "/srv/c", "--access-log", "/var/log/cellar/access.log")
    )
    assert found["ReadWritePaths"] == ["/srv/c /var/log/cellar"]
    home_install = Path(sys.executable).is_relative_to(Path("/home")) or Path(
        sys.executable
    ).is_relative_to(Path("/root"))
    assert found["ProtectHome"] == ["read-only" if home_install else "yes"]
    found = directives(unit_for(capsys, "--serverdir", "/home/cellar/srv"))
    assert found["ProtectHome"] == ["read-only"]


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize(
    "args",
    [
        ["--serverdir", "/var/lib/cellar"],
        ["--serverdir", "/var/lib/cellar data/100%", "--access-log", "/var/log/a b/x.log"],
        [
            *("--serverdir", "/srv/r", "--role", "replica", "--secretfile", "/etc/s"),
            *("--primary-url", "http://p:3141", "--port", "443"),
            *("--restrict-modify", "root,:admins"),
        ],
    ],
    ids=["standalone", "spaces-and-percent", "replica-low-port"],
)
def test_systemd_analyze_verifies_the_unit(capsys, tmp_path, args):
    unit_for(capsys, *args)
    verify(tmp_path / "gen-config" / "cellar.service")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_would_notice_a_broken_unit(capsys, tmp_path):
    """The check above can fail: a unit naming a missing program does."""
    unit_for(capsys, "--serverdir", "/srv/c")
    path = tmp_path / "gen-config" / "cellar.service"
    beside_python = str(Path(sys.executable).parent / "cellar")
    path.write_text(path.read_text().replace(beside_python, "/nonexistent/cellar"))
    with pytest.raises(AssertionError):
        verify(path)
