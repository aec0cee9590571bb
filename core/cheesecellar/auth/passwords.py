"""Password hashing with argon2id, a short-lived cache of successful checks, and the
salted sha256 hashes of devpi-server before 4.2 (imported users)."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError

_hasher = PasswordHasher()
# Successful checks are remembered for a minute so that pip and twine, which send the
# password with every request, do not pay for argon2 each time. The cache key is an HMAC
# under a per-process key: the cache never holds a password or a reusable digest of one.
_CACHE_SECONDS = 60
_CACHE_SIZE = 1024
_cache_key = os.urandom(32)
_cache: dict[bytes, float] = {}
_cache_lock = threading.Lock()
# Each argon2 check takes 64 MiB; bound how many run at once so that a burst of requests
# with new passwords cannot multiply that by the number of worker threads.
_argon2_slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


def hash_password(password: str) -> str:
    """Return an argon2id PHC string for ``password``."""
    with _argon2_slots:
        return _hasher.hash(password)


#: Marks a hash imported from devpi-server < 4.2: ``$devpi-sha256$SALT$HEXDIGEST``.
LEGACY_PREFIX = "$devpi-sha256$"


def legacy_pwhash(salt: str, hexdigest: str) -> str:
    """The stored form of devpi's old ``pwsalt`` + ``pwhash`` (sha256 of salt + password)."""
    return f"{LEGACY_PREFIX}{salt}${hexdigest.lower()}"


def is_legacy(pwhash: str | None) -> bool:
    """Tell whether ``pwhash`` is an imported devpi hash that should become argon2."""
    return bool(pwhash) and pwhash.startswith(LEGACY_PREFIX)


def _verify_legacy(pwhash: str, password: str) -> bool:
    salt, _, expected = pwhash[len(LEGACY_PREFIX) :].rpartition("$")
    digest = hashlib.sha256((salt + password).encode("utf-8")).hexdigest()
    return hmac.compare_digest(digest, expected)


def verify_password(pwhash: str | None, password: str) -> bool:
    """Tell whether ``password`` matches the stored ``pwhash`` (False if there is none)."""
    if not pwhash:
        return False
    if is_legacy(pwhash):
        return _verify_legacy(pwhash, password)
    token = hmac.new(_cache_key, f"{pwhash}\0{password}".encode(), hashlib.sha256).digest()
    now = time.monotonic()
    with _cache_lock:
        if _cache.get(token, 0) > now:
            return True
    try:
        with _argon2_slots:
            _hasher.verify(pwhash, password)
    except (VerificationError, InvalidHashError):
        return False
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[token] = now + _CACHE_SECONDS
    return True
