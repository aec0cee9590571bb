"""Project and version JSON: stored versions merged over the resolution order."""

from __future__ import annotations

from typing import Any

from cheesecellar.model import releases
from cheesecellar.model.resolve import reader_for
from cheesecellar.model.resolve import resolve

REL = {"releasefile": "releasefile", "doczip": "doczip"}


def public_verdata(verdata: dict, url_for) -> dict[str, Any]:
    """A stored version as the API shows it: metadata plus ``+links``."""
    data = {k: v for k, v in verdata.items() if k != releases.FILES}
    links = []
    for entry in verdata.get(releases.FILES, ()):
        sha256 = entry["hashes"].get("sha256", "")
        link = {
            "rel": REL.get(entry.get("type"), entry.get("type")),
            "href": entry.get("url") or url_for(entry["relpath"]),
            "hash_spec": f"sha256={sha256}",
            "hashes": entry["hashes"],
            "size": entry.get("size"),
            "upload_time": entry.get("upload_time"),
        }
        if entry.get("for_relpath"):
            link["for_href"] = url_for(entry["for_relpath"])
        if entry.get("log"):
            link["log"] = entry["log"]
        links.append(link)
    data["+links"] = links
    return data


def project_versions(
    tx, types, indexname: str, project: str, *, ignore_bases: bool, url_for
) -> dict[str, dict] | None:
    """``{version: verdata}`` over the resolution order; later stages' data of a version
    already seen goes to its ``+shadowing`` list."""
    if ignore_bases:
        versions = releases.all_versions(tx, indexname, project)
        if not versions and releases.get_project(tx, indexname, project) is None:
            return None
        return {v: public_verdata(d, url_for) for v, d in versions.items()}
    hits = resolve(tx, types, indexname, project).hits
    if not hits:
        return None
    merged: dict[str, dict] = {}
    for hit in hits:
        reader = reader_for(types, hit.config)
        for version, verdata in reader.versions(tx, hit.name, hit.config, project).items():
            public = public_verdata(verdata, url_for)
            if version in merged:
                merged[version].setdefault("+shadowing", []).append(public)
            else:
                merged[version] = public
    return merged
