"""Rendering the package's templates and writing the results, never over a file unasked."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from cheesecellar.config import ConfigError

EXECUTABLE = 0o755
REGULAR = 0o644


@dataclasses.dataclass(frozen=True)
class GeneratedFile:
    """A file to write: its path under the output directory, its text and its mode."""

    relpath: str
    text: str
    mode: int = REGULAR


@functools.cache
def environment() -> jinja2.Environment:
    """Templates come from the package, so an installed wheel has them too."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cheesecellar_genconfig", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(template: str, context: Mapping[str, Any]) -> str:
    return environment().get_template(template).render(**context)


def write_files(output: Path, files: Iterable[GeneratedFile], *, force: bool) -> list[Path]:
    """Write every file under ``output``; refuse when one exists, unless ``force``.

    All files are rendered before this runs, and each is written to a temp file and
    renamed into place, so a failure never leaves a half-written file.
    """
    files = list(files)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"{output} exists and is not a directory")
    targets = [output / item.relpath for item in files]
    existing = [str(path) for path in targets if path.exists() or path.is_symlink()]
    if existing and not force:
        raise ConfigError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
            "pass --force to replace, or choose another --output"
        )
    for item, target in zip(files, targets, strict=True):
        _write_one(target, item)
    return targets


def _write_one(target: Path, item: GeneratedFile) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(item.text, encoding="utf-8")
        os.chmod(partial, item.mode)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
