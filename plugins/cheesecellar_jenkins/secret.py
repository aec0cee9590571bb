"""The key that signs webhook bodies: ``--webhook-secretfile``, or one made in the serverdir."""

from __future__ import annotations

import threading
from pathlib import Path

from cheesecellar.auth.secret import read_secret
from cheesecellar.auth.secret import write_secret

SECRETFILE_SETTING = "webhook_secretfile"
#: The server directory's own webhook secret, made the first time a webhook is sent.
DEFAULT_NAME = ".webhook-secret"


class WebhookSecret:
    """Reads the secret once, with the same checks as the replication secret (mode
    0600, a directory others cannot write to, at least 32 bytes)."""

    def __init__(self, secretfile: Path | None, serverdir: Path) -> None:
        self.path = Path(secretfile) if secretfile else Path(serverdir) / DEFAULT_NAME
        self.generated = secretfile is None
        self._value: bytes | None = None
        self._lock = threading.Lock()

    def get(self) -> bytes:
        """The key: the file's content without surrounding whitespace.

        :raises ConfigError: the file is unsafe or too short.
        """
        with self._lock:
            if self._value is None:
                if self.generated and not self.path.exists():
                    write_secret(self.path)
                self._value = read_secret(self.path)
            return self._value
