"""Which upstream file a mirror file path stands for, found from the cached pages."""

from __future__ import annotations

from packaging.utils import InvalidWheelFilename
from packaging.utils import parse_wheel_filename

from cheesecellar.model.names import normalize_name
from cheesecellar_mirror.reader import file_entry
from cheesecellar_mirror.reader import guess_version


def candidate_projects(filename: str) -> list[str]:
    """Projects a file name may belong to: the one a wheel names, or each prefix of an
    sdist name before a hyphen (``foo-bar-1.0.tar.gz``: ``foo``, ``foo-bar``)."""
    if filename.endswith(".whl"):
        try:
            return [str(parse_wheel_filename(filename)[0])]
        except (InvalidWheelFilename, ValueError):
            return []
    candidates = []
    for index, char in enumerate(filename):
        if char == "-" and index:
            name = normalize_name(filename[:index])
            if name not in candidates:
                candidates.append(name)
    return candidates


def find_entry(service, tx, indexname: str, relpath: str) -> tuple[str, str, dict] | None:
    """``(project, version, entry)`` of the cached upstream file at ``relpath``."""
    filename = relpath.rpartition("/")[2]
    config = {}  # entries are looked up by path; external URLs do not matter here
    for project in candidate_projects(filename):
        page = service.known_page(tx, indexname, project)
        if page is None:
            continue
        for upfile in page.files:
            if upfile.filename != filename:
                continue
            entry = file_entry(indexname, config, upfile)
            if entry is not None and entry["relpath"] == relpath:
                return project, guess_version(project, filename), entry
    return None
