"""Errors the model and views raise; each carries the HTTP status and a message for people."""

from __future__ import annotations


class CellarError(Exception):
    """A request cannot be done; ``status`` is the HTTP status, ``message`` says why."""

    status = 400

    def __init__(self, message: str, status: int | None = None, headers=None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})
        if status is not None:
            self.status = status


class BadRequest(CellarError):
    status = 400


class Unauthorized(CellarError):
    status = 401


class Forbidden(CellarError):
    status = 403


class NotFound(CellarError):
    status = 404


class Conflict(CellarError):
    status = 409


class Gone(CellarError):
    status = 410


class MirrorUnavailable(CellarError):
    """A mirror's upstream failed and nothing usable is cached."""

    status = 502
