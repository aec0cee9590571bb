"""Tox results: ``devpi test`` and ``cellar test`` upload them, indexes keep and show them."""

from __future__ import annotations

from cheesecellar import hookimpl
from cheesecellar.config import ConfigError
from cheesecellar_toxresults.validate import DEFAULT_MAX_SIZE
from cheesecellar_toxresults.validate import MAX_SIZE_SETTING


@hookimpl
def cellar_add_options(parser):
    parser.add_argument(
        "--toxresult-max-size",
        type=int,
        default=DEFAULT_MAX_SIZE,
        metavar="BYTES",
        help="largest tox result (the JSON 'devpi test' and 'cellar test' upload) accepted, "
        f"in bytes (default {DEFAULT_MAX_SIZE})",
    )


@hookimpl
def cellar_configure(settings):
    if settings.plugin(MAX_SIZE_SETTING, DEFAULT_MAX_SIZE) < 1:
        raise ConfigError("--toxresult-max-size must be at least 1 byte")


@hookimpl
def cellar_pyramid_configure(config):
    config.scan("cheesecellar_toxresults.views")
