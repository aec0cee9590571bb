"""The empty-root-password warning: shown while root has it, gone once root has a password."""

from __future__ import annotations

import logging

from cheesecellar.serverdir import EMPTY_ROOT_WARNING
from cheesecellar.testing import start_live_cellar

WARNING_LINE = EMPTY_ROOT_WARNING.splitlines()[1]


def _start(serverdir, caplog):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cheesecellar"):
        return start_live_cellar(serverdir)


def test_warning_until_root_sets_a_password(tmp_path, caplog):
    live = _start(tmp_path, caplog)
    assert WARNING_LINE in caplog.text
    with live.session() as root:
        root.login("root", "")
        root.patch("/root", json={"password": "s3cret"}).raise_for_status()
    live.stop()

    live = _start(tmp_path, caplog)
    try:
        assert WARNING_LINE not in caplog.text
        with live.session() as session:
            assert session.post("/+login", json={"user": "root", "password": ""}).status_code == 401
    finally:
        live.stop()


def test_no_warning_when_initialised_with_a_password(tmp_path, caplog):
    from cheesecellar.config import settings_for_tests
    from cheesecellar.plugins import make_plugin_manager
    from cheesecellar.serverdir import init_serverdir

    init_serverdir(
        settings_for_tests(tmp_path), make_plugin_manager(entry_points=False), root_passwd="pw"
    )
    live = _start(tmp_path, caplog)
    try:
        assert WARNING_LINE not in caplog.text
    finally:
        live.stop()
