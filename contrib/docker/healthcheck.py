"""Exit 0 when the cheesecellar server in this container answers ``/+api``, else 1."""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping

TIMEOUT = 8


def api_url(environ: Mapping[str, str]) -> str:
    """``/+api`` of the server this container runs, from the entrypoint's settings."""
    host = environ.get("CELLAR_HOST", "") or "0.0.0.0"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{environ.get('CELLAR_PORT', '') or '3141'}/+api"


def main() -> int:
    url = api_url(os.environ)
    # Never through a proxy that the server's environment may name for its upstreams.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=TIMEOUT) as reply:
            reply.read()
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
