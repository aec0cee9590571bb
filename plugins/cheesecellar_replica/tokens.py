"""Short-lived tokens that prove a replica knows the shared secret."""

from __future__ import annotations

import itsdangerous

#: Seconds a token is accepted; a replica makes a new one for every request.
TOKEN_MAX_AGE = 60
#: Keeps replica tokens apart from login tokens made with the same secret.
SALT = "cheesecellar.replica-token"


class ReplicaTokens:
    """Makes a replica's token (its uuid, timestamped and signed) and checks one."""

    def __init__(self, secret: bytes, max_age: int = TOKEN_MAX_AGE) -> None:
        self._signer = itsdangerous.TimestampSigner(secret, salt=SALT)
        self.max_age = max_age

    def make(self, replica_uuid: str) -> str:
        return self._signer.sign(replica_uuid).decode()

    def check(self, token: str | None, replica_uuid: str | None) -> str | None:
        """None if ``token`` is a current token of ``replica_uuid``, else why it is not."""
        if not token:
            return "no replica token was sent"
        try:
            signed = self._signer.unsign(token, max_age=self.max_age).decode()
        except itsdangerous.SignatureExpired:
            return f"the replica token is older than {self.max_age} s (check the clocks)"
        except itsdangerous.BadData:
            return "the replica token does not match this server's secret"
        if signed != replica_uuid:
            return "the replica token was made for another replica uuid"
        return None
