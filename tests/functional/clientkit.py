"""Running ``cellar`` client commands in tests: in-process or as a subprocess, isolated."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from cheesecellar.cli import main

#: Seconds one ``cellar`` subprocess may take.
COMMAND_TIMEOUT = 120


@dataclasses.dataclass(frozen=True)
class Result:
    """Exit code and output of one command."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclasses.dataclass
class ClientEnv:
    """Where the client, pip and uv keep their config during one test."""

    home: Path

    @property
    def client_dir(self) -> Path:
        return self.home / "cellar-client"

    @property
    def pip_conf(self) -> Path:
        return self.home / "pip" / "pip.conf"

    @property
    def uv_toml(self) -> Path:
        return self.home / "uv" / "uv.toml"

    @property
    def state_file(self) -> Path:
        return self.client_dir / "client.json"

    def variables(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / "xdg"),
            "CELLAR_CLIENT_DIR": str(self.client_dir),
            "PIP_CONFIG_FILE": str(self.pip_conf),
            "UV_CONFIG_FILE": str(self.uv_toml),
        }

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def environ(self) -> dict[str, str]:
        """This process's environment minus client/pip/uv settings, plus ours."""
        prefixes = ("CELLAR_", "DEVPI_", "PIP_", "UV_", "XDG_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        env.update(self.variables())
        env["PYTHONWARNINGS"] = "ignore"
        return env


class CellarCLI:
    """Calls ``cellar.cli.main`` in this process and captures what it printed."""

    def __init__(self, env: ClientEnv, capsys, monkeypatch) -> None:
        self.env = env
        self._capsys = capsys
        for prefix in ("PIP_", "UV_"):
            for name in [k for k in os.environ if k.startswith(prefix)]:
                monkeypatch.delenv(name)
        for name, value in env.variables().items():
            monkeypatch.setenv(name, value)

    def __call__(self, *argv: str) -> Result:
        self._capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *argv: str) -> Result:
        """Run a command that must succeed."""
        result = self(*argv)
        assert result.code == 0, f"cellar {' '.join(argv)} failed:\n{result.text}"
        return result

    def fails(self, *argv: str) -> Result:
        """Run a command that must fail with a message on stderr."""
        result = self(*argv)
        assert result.code != 0, f"cellar {' '.join(argv)} succeeded:\n{result.text}"
        assert "error:" in result.err, result.text
        return result


def run_cellar(env: ClientEnv, *argv: str, stdin: str | None = None) -> Result:
    """Run ``cellar ARGV`` as a subprocess of this Python, in ``env``."""
    done = subprocess.run(
        [sys.executable, "-m", "cheesecellar.cli", *argv],
        env=env.environ(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def toxresult(env: str, *, retcode: int = 0, host: str = "ci-host", output: str = "") -> dict:
    """A tox result as ``tox --result-json`` writes it, with one environment."""
    command = {"command": ["python", "-m", "pytest"], "retcode": retcode, "output": output}
    return {
        "reportversion": "1",
        "toxversion": "4.0",
        "host": host,
        "platform": "linux",
        "testenvs": {
            env: {
                "python": {"version": "3.11.7 (main) [GCC]"},
                "setup": [{"command": ["pip", "install", "x"], "retcode": 0, "output": ""}],
                "test": [command],
            }
        },
    }
