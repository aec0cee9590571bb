"""The outside URL: rewrite scheme, host and prefix when the server sits behind a proxy."""

from __future__ import annotations

from urllib.parse import urlsplit


class OutsideURLMiddleware:
    """Apply ``--outside-url`` or a request's ``X-Outside-Url`` header to the WSGI environ.

    Generated URLs then carry the public scheme, host and path prefix, and the prefix is
    removed from the incoming path before routing.
    """

    def __init__(self, app, outside_url: str | None) -> None:
        self.app = app
        self.outside_url = outside_url

    def __call__(self, environ, start_response):
        outside = environ.get("HTTP_X_OUTSIDE_URL") or self.outside_url
        if outside:
            _apply(environ, outside)
        return self.app(environ, start_response)


def _apply(environ: dict, outside_url: str) -> None:
    parts = urlsplit(outside_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return
    environ["wsgi.url_scheme"] = parts.scheme
    environ["HTTP_HOST"] = parts.netloc
    prefix = parts.path.rstrip("/")
    if prefix:
        path = environ.get("PATH_INFO", "")
        if path == prefix or path.startswith(prefix + "/"):
            environ["PATH_INFO"] = path[len(prefix) :] or "/"
        environ["SCRIPT_NAME"] = prefix
