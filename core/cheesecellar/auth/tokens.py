"""Login tokens: signed, timestamped, tied to the user's current password hash."""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer

#: Seconds a login token stays valid (devpi's value: 10 hours).
LOGIN_EXPIRATION = 36000
_SALT = "cheesecellar-login"


def _pw_tag(pwhash: str | None) -> str:
    # A short digest of the password hash: changing the password ends older tokens.
    return hashlib.sha256((pwhash or "").encode()).hexdigest()[:12]


class TokenSigner:
    """Makes and checks login tokens with the server secret."""

    def __init__(self, secret: bytes, max_age: int = LOGIN_EXPIRATION) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age = max_age

    def make(self, username: str, groups: list[str], pwhash: str | None) -> str:
        return self._serializer.dumps([username, sorted(groups), _pw_tag(pwhash)])

    def check(self, username: str, token: str) -> tuple[list[str], str] | None:
        """Return ``(groups, pw_tag)`` if ``token`` is a valid, unexpired token of the user."""
        try:
            name, groups, tag = self._serializer.loads(token, max_age=self.max_age)
        except (BadSignature, ValueError, TypeError):
            return None
        if name != username:
            return None
        return list(groups), tag

    @staticmethod
    def matches_password(tag: str, pwhash: str | None) -> bool:
        return tag == _pw_tag(pwhash)
