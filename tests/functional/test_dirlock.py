"""One server per server directory: a second one is refused until the first stops."""

from __future__ import annotations

import pytest

from cheesecellar.config import ConfigError
from cheesecellar.testing import start_live_cellar


def test_a_second_server_on_the_same_directory_is_refused(tmp_path):
    first = start_live_cellar(tmp_path / "srv")
    try:
        with pytest.raises(ConfigError, match="in use by another server"):
            start_live_cellar(tmp_path / "srv")
        with first.session() as api:
            assert api.get("/+api").status_code == 200  # the first one is untouched
    finally:
        first.stop()
    second = start_live_cellar(tmp_path / "srv")
    second.stop()


def test_the_lock_does_not_make_a_new_directory_look_used(tmp_path):
    from cheesecellar.dirlock import DirectoryLock

    lock = DirectoryLock(tmp_path / "new").acquire()
    lock.release()
    live = start_live_cellar(tmp_path / "new")  # initialises despite the lock file
    live.stop()
