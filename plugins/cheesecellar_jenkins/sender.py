"""One delivery attempt over HTTP, and what its answer means: delivered, retry or give up."""

from __future__ import annotations

import dataclasses
import re
import time

import requests

from cheesecellar_jenkins.ixconfig import mask_url
from cheesecellar_jenkins.payloads import OutgoingRequest

#: Answers worth another attempt: the receiver is busy, restarting or overloaded.
RETRY_STATUSES = frozenset({408, 429})
#: Longest wait a ``Retry-After`` header can ask for.
MAX_RETRY_AFTER = 600.0
_SECRET_IN_TEXT = re.compile(r"(token=)[^&\s'\"]*", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"https?://[^\s'\"]+")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one attempt gave: a status (None if no answer came) or an error."""

    status: int | None
    error: str | None
    retryable: bool
    duration: float
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def clean_error(text: str, limit: int = 300) -> str:
    """An error text fit for logs: URL secrets masked, cut to ``limit`` characters."""
    text = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
    text = _SECRET_IN_TEXT.sub(r"\1****", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def send(session: requests.Session, request: OutgoingRequest, timeout: float) -> Outcome:
    """POST ``request`` once; never raises for network or HTTP problems."""
    started = time.monotonic()
    try:
        response = session.post(
            request.url,
            data=request.body,
            headers=request.headers,
            auth=request.auth,
            timeout=timeout,
            allow_redirects=False,
        )
        response.close()
    except (requests.ConnectionError, requests.Timeout) as exc:
        return Outcome(None, clean_error(_reason(exc)), True, time.monotonic() - started)
    except requests.RequestException as exc:
        return Outcome(None, clean_error(_reason(exc)), False, time.monotonic() - started)
    return judge(response, time.monotonic() - started)


def judge(response: requests.Response, duration: float) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(status, None, False, duration)
    retryable = status >= 500 or status in RETRY_STATUSES
    error = f"HTTP {status} {response.reason or ''}".strip()
    if 300 <= status < 400:
        where = mask_url(response.headers.get("Location", ""))
        error += f" (redirected to {where or 'nowhere'}; configure the final URL)"
    return Outcome(status, clean_error(error), retryable, duration, retry_after(response))


def retry_after(response: requests.Response) -> float | None:
    """The ``Retry-After`` seconds of a 429 or 503, if given as a number."""
    value = response.headers.get("Retry-After", "").strip()
    if not value.isdigit():
        return None
    return min(float(value), MAX_RETRY_AFTER)


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return f"connection failed: {_innermost(exc)}"
    return f"{type(exc).__name__}: {exc}"


def _innermost(exc: BaseException) -> str:
    """The root cause of a requests error chain ("[Errno 111] Connection refused")."""
    seen = exc
    while True:
        inner = getattr(seen, "reason", None) or seen.__context__
        if not isinstance(inner, BaseException) or inner is seen:
            break
        seen = inner
    return str(seen)
