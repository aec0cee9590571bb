"""Building what ``cellar upload`` sends: sdist and wheel with ``build``, and a docs zip."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from cheesecellar_client.http import ClientError
from cheesecellar_client.output import out

#: Where built HTML documentation usually sits, relative to the project directory.
HTML_DIRS = ("docs/_build/html", "doc/_build/html", "docs/build/html", "doc/build/html")
#: Where a Sphinx project's conf.py usually sits.
SPHINX_DIRS = ("docs", "doc")
#: Lines of a failed build's output shown, counted from the end.
BUILD_LOG_TAIL = 60


def check_project(source: Path) -> None:
    """Refuse a directory that holds no Python project."""
    if not ((source / "pyproject.toml").is_file() or (source / "setup.py").is_file()):
        raise ClientError(
            f"no pyproject.toml or setup.py in {source}; run cellar upload in a project"
            " directory, or name the files to upload"
        )


def build_dists(
    source: Path, outdir: Path, *, no_isolation: bool, formats: tuple[str, ...]
) -> list[Path]:
    """Build ``formats`` (``sdist``, ``wheel``) of the project in ``source`` into ``outdir``.

    :returns: the built files, sdist first.
    :raises ClientError: ``build`` is missing or the build failed (with its output).
    """
    check_project(source)
    if importlib.util.find_spec("build") is None:
        raise ClientError("the 'build' package is needed to build; install it: pip install build")
    command = [sys.executable, "-m", "build", "--outdir", str(outdir)]
    command += [f"--{fmt}" for fmt in formats]
    if no_isolation:
        command.append("--no-isolation")
    out(f"building {' and '.join(formats)} of {source} ...")
    done = subprocess.run(
        [*command, str(source)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if done.returncode != 0:
        raise ClientError(_build_failure(done.stdout, done.returncode, no_isolation))
    built = sorted(outdir.iterdir(), key=lambda path: (path.suffix == ".whl", path.name))
    if not built:
        raise ClientError(f"the build of {source} produced no files")
    return built


def _build_failure(output: str, returncode: int, no_isolation: bool) -> str:
    lines = output.rstrip().splitlines()[-BUILD_LOG_TAIL:]
    message = [f"the build failed (python -m build exited with {returncode}):"]
    message += [f"  | {line}" for line in lines]
    if not no_isolation:
        message.append(
            "hint: without network access to PyPI, build with the installed tools:"
            " cellar upload --no-isolation"
        )
    return "\n".join(message)


def static_name_version(source: Path) -> tuple[str, str] | None:
    """Name and version from ``pyproject.toml``'s ``[project]`` table, when both are static."""
    try:
        data = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    project = data.get("project") or {}
    name, version = project.get("name"), project.get("version")
    if isinstance(name, str) and isinstance(version, str):
        return name, version
    return None


def docs_zip(source: Path, given: Path | None, workdir: Path, name: str, version: str) -> Path:
    """The documentation zip to upload for ``name`` ``version``.

    ``given`` may be a zip file or a directory of HTML to zip. Without it, built HTML
    in one of :data:`HTML_DIRS` is zipped, or the Sphinx docs are built first.

    :raises ClientError: there is nothing to zip and nothing to build.
    """
    target = workdir / f"{name}-{version}.doc.zip"
    if given is not None:
        if given.is_dir():
            return zip_directory(given, target)
        if given.is_file() and zipfile.is_zipfile(given):
            return given
        raise ClientError(f"--docs-zip {given}: not a zip file or a directory")
    for relative in HTML_DIRS:
        html = source / relative
        if (html / "index.html").is_file():
            out(f"zipping the documentation in {html}")
            return zip_directory(html, target)
    return zip_directory(build_sphinx(source, workdir / "html"), target)


def build_sphinx(source: Path, outdir: Path) -> Path:
    """Build the HTML documentation with Sphinx into ``outdir``."""
    confdir = next((source / d for d in SPHINX_DIRS if (source / d / "conf.py").is_file()), None)
    if confdir is None:
        raise ClientError(
            f"no documentation found in {source}: build the HTML docs first (into"
            " docs/_build/html) or give --docs-zip PATH"
        )
    if importlib.util.find_spec("sphinx") is None:
        raise ClientError(
            f"{confdir}/conf.py needs Sphinx to build the documentation: pip install sphinx,"
            " or give --docs-zip PATH"
        )
    out(f"building the documentation in {confdir} with sphinx ...")
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(confdir), str(outdir)]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        tail = "\n".join(f"  | {line}" for line in done.stdout.splitlines()[-BUILD_LOG_TAIL:])
        raise ClientError(f"building the documentation failed:\n{tail}")
    return outdir


def zip_directory(directory: Path, target: Path) -> Path:
    """Zip the files below ``directory`` (paths relative to it) into ``target``."""
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    if not files:
        raise ClientError(f"{directory} holds no files to zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(directory).as_posix())
    return target
