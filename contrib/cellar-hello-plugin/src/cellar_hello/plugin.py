"""The hooks of the hello plugin; cheesecellar finds this module through its entry point."""

from __future__ import annotations

import logging

from cheesecellar import hookimpl

log = logging.getLogger(__name__)

FEATURE = "hello"


@hookimpl
def cellar_add_options(parser):
    parser.add_argument(
        "--hello-greeting",
        default="hello",
        help="the greeting GET /+hello answers with (env CELLAR_HELLO_GREETING)",
    )


@hookimpl
def cellar_get_features():
    return {FEATURE}


@hookimpl
def cellar_pyramid_configure(config):
    config.include("cellar_hello.web")


@hookimpl
def cellar_on_user_created(username, serial):
    # Events run after the commit, in the event thread; a slow hook delays later events
    # but never a request.
    log.info("hello, %s! (user created at serial %s)", username, serial)
