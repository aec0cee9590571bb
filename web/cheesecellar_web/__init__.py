"""The web UI: HTML pages for browsers on the same URLs as the JSON API (built-in plugin)."""
