"""Uploads to a private index: the legacy PyPI form that twine and devpi-client send."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
from collections.abc import Mapping
from typing import IO
from typing import Any

from cheesecellar.doczips import check_doczip
from cheesecellar.errors import BadRequest
from cheesecellar.errors import CellarError
from cheesecellar.model import releases
from cheesecellar.model.distfiles import DistName
from cheesecellar.model.distfiles import check_version
from cheesecellar.model.distfiles import parse_filename
from cheesecellar.model.distfiles import parse_metadata
from cheesecellar.model.distfiles import read_core_metadata
from cheesecellar.model.distfiles import same_version
from cheesecellar.model.names import normalize_name

IDENTICAL = "Upload of identical file to non volatile index."
IDENTICAL_VOLATILE = "Upload of identical file: it is already stored."
# Form fields that may repeat, and the metadata key each one fills.
MULTI_FIELDS = {
    "classifiers": "classifiers",
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "requires_dist": "requires_dist",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_external": "requires_external",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
    "license_file": "license_files",
}
SINGLE_FIELDS = (
    "metadata_version", "name", "version", "summary", "description",
    "description_content_type", "author", "author_email", "maintainer", "maintainer_email",
    "license", "license_expression", "keywords", "home_page", "download_url",
    "requires_python",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Upload:
    """A file taken out of the form: its name, content and what the form says of it."""

    filename: str
    fp: IO[bytes]
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class UploadResult:
    message: str
    status: int = 200


def form_metadata(form) -> dict[str, Any]:
    """The metadata fields of a form (``form.getall`` for repeated fields)."""
    metadata: dict[str, Any] = {}
    for field in SINGLE_FIELDS:
        value = form.get(field)
        if isinstance(value, str) and value.strip() and value != "UNKNOWN":
            metadata[field] = value
    for field, key in MULTI_FIELDS.items():
        values = [v for v in form.getall(field) if isinstance(v, str) and v.strip()]
        if values:
            metadata[key] = values
    urls = [v for v in form.getall("project_urls") if isinstance(v, str) and "," in v]
    if urls:
        metadata["project_urls"] = dict(
            (label.strip(), url.strip()) for label, url in (v.split(",", 1) for v in urls)
        )
    return metadata


def take_file(form, max_size: int) -> Upload:
    """Take the ``content`` part: a named, non-empty file within the size limit."""
    content = form.get("content")
    if content is None or not hasattr(content, "file"):
        raise BadRequest("no file content: the form has no 'content' file part")
    filename = content.filename or ""
    if "/" in filename or "\\" in filename:
        raise BadRequest(f"invalid file name {filename!r}: paths are not allowed")
    fp = content.file
    fp.seek(0, io.SEEK_END)
    size = fp.tell()
    if size > max_size:
        raise CellarError(f"{filename} is larger than the limit of {max_size} bytes", 413)
    if size == 0:
        raise BadRequest(f"{filename or 'the file'} is empty")
    fp.seek(0)
    digest = hashlib.sha256()
    while chunk := fp.read(1024 * 1024):
        digest.update(chunk)
    fp.seek(0)
    return Upload(filename, fp, size, digest.hexdigest())


def check_digests(form, upload: Upload) -> None:
    given = (form.get("sha256_digest") or "").strip().lower()
    if given and given != upload.sha256:
        raise BadRequest(f"{upload.filename}: sha256 digest does not match the content")
    md5 = (form.get("md5_digest") or "").strip().lower()
    if md5:
        digest = hashlib.md5(usedforsecurity=False)
        while chunk := upload.fp.read(1024 * 1024):
            digest.update(chunk)
        upload.fp.seek(0)
        if digest.hexdigest() != md5:
            raise BadRequest(f"{upload.filename}: md5 digest does not match the content")


def check_matches_form(dist: DistName, form) -> str:
    """The version of the upload; the form's name and version must agree with the file."""
    for field in ("name", "version"):
        if isinstance(form.get(field), str) and not form[field].strip():
            raise BadRequest(f"the form's {field!r} is empty")
    name = form.get("name")
    if isinstance(name, str) and name and normalize_name(name) != dist.project:
        raise BadRequest(f"filename {dist.filename!r} does not match the project name {name!r}")
    version = form.get("version")
    if isinstance(version, str) and version:
        if not same_version(version, dist.version):
            raise BadRequest(f"filename {dist.filename!r} does not match version {version!r}")
        return check_version(version)
    return check_version(dist.version)


def file_upload(
    tx, indexname: str, config: Mapping, form, who: str | None, max_size: int
) -> UploadResult:
    """Store a release file with its metadata (devpi registers the project implicitly)."""
    upload = take_file(form, max_size)
    dist = parse_filename(upload.filename)
    if dist.kind == "doczip":
        return doc_upload(tx, indexname, config, form, who, max_size, upload)
    version = check_matches_form(dist, form)
    check_digests(form, upload)
    raw = read_core_metadata(dist, upload.fp)
    upload.fp.seek(0)
    if dist.kind == "wheel" and raw is None:
        raise BadRequest(f"{upload.filename}: a wheel must contain .dist-info/METADATA")
    metadata = form_metadata(form)
    if raw is not None:
        metadata.update(_checked_file_metadata(dist, raw))
    metadata["name"] = metadata.get("name") or dist.project
    releases.set_metadata(tx, indexname, dist.project, version, metadata)
    extra = (
        {"core_metadata": {"sha256": hashlib.sha256(raw).hexdigest()}}
        if dist.kind == "wheel"
        else {}
    )
    entry, identical = releases.add_file(
        tx, indexname, dist.project, version, upload.filename, upload.fp, upload.sha256,
        who=who, volatile=config.get("volatile", True), extra=extra,
    )  # fmt: skip
    if identical:
        return UploadResult(_identical(config))
    if raw is not None and dist.kind == "wheel":
        tx.store_file(entry["relpath"] + ".metadata", io.BytesIO(raw))
    return UploadResult(f"{upload.filename} stored in {indexname}")


def _checked_file_metadata(dist: DistName, raw: bytes) -> dict[str, Any]:
    metadata = parse_metadata(raw)
    name = metadata.get("name")
    if name and normalize_name(name) != dist.project:
        raise BadRequest(f"{dist.filename}: metadata names project {name!r}")
    version = metadata.get("version")
    if version and not same_version(str(version), dist.version):
        raise BadRequest(f"{dist.filename}: metadata names version {version!r}")
    metadata.pop("version", None)
    return metadata


def submit(tx, indexname: str, form) -> UploadResult:
    """Register or update a version's metadata without a file (``:action=submit``)."""
    metadata = form_metadata(form)
    name, version = metadata.get("name"), metadata.get("version")
    if not name or not version:
        raise BadRequest("metadata needs 'name' and 'version'")
    check_version(version)
    releases.set_metadata(tx, indexname, normalize_name(name), version, metadata)
    return UploadResult(f"{name} {version} registered in {indexname}")


def doc_upload(
    tx,
    indexname: str,
    config: Mapping,
    form,
    who: str | None,
    max_size: int,
    upload: Upload | None = None,
) -> UploadResult:
    """Store a documentation zip as ``{project}-{version}.doc.zip`` of a version."""
    upload = upload or take_file(form, max_size)
    name = form.get("name") or ""
    version = form.get("version") or ""
    if upload.filename.endswith(".doc.zip"):
        dist = parse_filename(upload.filename)
        name, version = name or dist.project, version or dist.version
    if not name or not version:
        raise BadRequest("a doc upload needs 'name' and 'version'")
    project = normalize_name(name)
    check_version(version)
    if not zipfile.is_zipfile(upload.fp):
        raise BadRequest(f"{upload.filename}: documentation must be a zip file")
    upload.fp.seek(0)
    check_doczip(upload.fp)
    if releases.get_version(tx, indexname, project, version) is None:
        releases.set_metadata(tx, indexname, project, version, {"name": name})
    filename = f"{project}-{version}.doc.zip"
    _entry, identical = releases.add_file(
        tx, indexname, project, version, filename, upload.fp, upload.sha256,
        who=who, volatile=config.get("volatile", True), filetype="doczip",
    )  # fmt: skip
    return UploadResult(_identical(config) if identical else f"documentation {filename} stored")


def _identical(config: Mapping) -> str:
    return IDENTICAL_VOLATILE if config.get("volatile", True) else IDENTICAL
