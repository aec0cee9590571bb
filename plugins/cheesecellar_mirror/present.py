"""How a mirror's configuration is shown: upstream credentials only to the privileged."""

from __future__ import annotations

from cheesecellar_mirror.upstream import mask_url


def present_config(config: dict, privileged: bool) -> dict:
    shown = dict(config)
    if not privileged and "mirror_url" in shown:
        shown["mirror_url"] = mask_url(shown["mirror_url"])
    return shown
