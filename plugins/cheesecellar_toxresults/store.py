"""Where tox results are kept: a file next to the release file, an entry of its version."""

from __future__ import annotations

import hashlib
import io
import time

from cheesecellar.model import releases

TOXRESULT = "toxresult"


def find_release_file(tx, relpath: str) -> tuple[str, str, dict] | None:
    """``(project, version, entry)`` of the release file at ``relpath``, or None when
    nothing, or something else (a doczip, a tox result), is stored there."""
    found = releases.find_file(tx, relpath)
    if found is None or found[2].get("type", "releasefile") != "releasefile":
        return None
    return found


def toxresult_filename(release: dict, taken: set[str], when: float) -> str:
    """``{release file}.toxresult-{UTC time}-{n}``, ``n`` counting the file's earlier results."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(when))
    number = sum(1 for name in taken if name.startswith(f"{release['filename']}.toxresult-"))
    while f"{release['filename']}.toxresult-{stamp}-{number}" in taken:
        number += 1
    return f"{release['filename']}.toxresult-{stamp}-{number}"


def store_toxresult(
    tx, indexname: str, found: tuple[str, str, dict], raw: bytes, who: str | None
) -> dict:
    """Store ``raw`` (the body as sent) as a new tox result of the release file ``found``;
    return its entry (``relpath``, ``for_relpath``, ``hashes``, ``upload_time``, ``log``)."""
    project, version, release = found
    verdata = releases.require_version(tx, indexname, project, version)
    taken = {entry["filename"] for entry in verdata.get(releases.FILES, ())}
    filename = toxresult_filename(release, taken, time.time())
    directory = release["relpath"].rpartition("/")[0]
    entry, _identical = releases.add_file(
        tx, indexname, project, version, filename, io.BytesIO(raw),
        hashlib.sha256(raw).hexdigest(), who=who, volatile=True, filetype=TOXRESULT,
        extra={"for_relpath": release["relpath"]}, relpath=f"{directory}/{filename}",
    )  # fmt: skip
    return entry
