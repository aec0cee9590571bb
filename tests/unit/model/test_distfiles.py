"""Distribution files: file name parsing, versions, core metadata read from archives."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from cheesecellar.errors import BadRequest
from cheesecellar.model import distfiles
from cheesecellar.model.distfiles import DistName
from cheesecellar.model.distfiles import check_filename
from cheesecellar.model.distfiles import check_version
from cheesecellar.model.distfiles import parse_filename
from cheesecellar.model.distfiles import parse_metadata
from cheesecellar.model.distfiles import read_core_metadata
from cheesecellar.model.distfiles import same_version

METADATA = (
    b"Metadata-Version: 2.1\n"
    b"Name: Hello_World\n"
    b"Version: 1.0\n"
    b"Summary: says hello\n"
    b"Requires-Python: >=3.8\n"
    b"Requires-Dist: requests>=2\n"
    b'Requires-Dist: attrs; extra == "fast"\n'
    b"Classifier: Programming Language :: Python :: 3\n"
    b"Classifier: License :: OSI Approved :: MIT License\n"
    b"\n"
    b"The long description.\n"
)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def wheel_bytes(metadata: bytes = METADATA, dist_info: str = "Hello_World-1.0.dist-info") -> bytes:
    return zip_bytes(
        {
            "hello_world/__init__.py": b"VALUE = 1\n",
            f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
            f"{dist_info}/METADATA": metadata,
            f"{dist_info}/RECORD": b"",
        }
    )


def read(filename: str, content: bytes) -> bytes | None:
    return read_core_metadata(parse_filename(filename), io.BytesIO(content))


class TestParseFilename:
    @pytest.mark.parametrize(
        ("filename", "project", "version", "kind"),
        [
            ("Hello_World-1.0-py3-none-any.whl", "hello-world", "1.0", "wheel"),
            ("hello_world-2.0rc1-1-py3-none-any.whl", "hello-world", "2.0rc1", "wheel"),
            ("pkg-1.0-12abc-cp311-cp311-manylinux_2_17_x86_64.whl", "pkg", "1.0", "wheel"),
            ("Hello_World-1.0.tar.gz", "hello-world", "1.0", "sdist"),
            ("hello-world-1.0.post1.zip", "hello-world", "1.0.post1", "sdist"),
            ("hello-world-1.0.doc.zip", "hello-world", "1.0", "doczip"),
            ("my.pkg-2.1.doc.zip", "my-pkg", "2.1", "doczip"),
            ("pkg-1!2.0+local.7.tar.gz", "pkg", "1!2.0+local.7", "sdist"),
        ],
    )
    def test_parses(self, filename, project, version, kind):
        assert parse_filename(filename) == DistName(filename, project, version, kind)

    def test_build_tag_is_not_part_of_the_version(self):
        assert parse_filename("pkg-1.0-2-py3-none-any.whl").version == "1.0"

    @pytest.mark.parametrize(
        "filename",
        [
            "../pkg-1.0.tar.gz",
            "dir/pkg-1.0.tar.gz",
            "/abs/pkg-1.0.tar.gz",
            "..\\pkg-1.0.tar.gz",
            "pkg-1.0\x00.tar.gz",
            "pkg-1.0\n.tar.gz",
            ".pkg-1.0.tar.gz",
            "",
            "p#x-1.0.tar.gz",
            "p?x-1.0.tar.gz",
            "p%2Fx-1.0.tar.gz",
            "p x-1.0.tar.gz",
            'p"x-1.0.zip',
            "p<x>-1.0.zip",
            "p\u00e9-1.0.tar.gz",
            "pkg-1.0#x.doc.zip",
        ],
    )
    def test_path_tricks_and_characters_that_break_urls_are_refused(self, filename):
        with pytest.raises(BadRequest, match="invalid file name"):
            parse_filename(filename)

    @pytest.mark.parametrize(
        "filename",
        [
            "pkg.tar.gz",  # no version
            "pkg-notaversion.tar.gz",
            "pkg-1.0.txt",
            "pkg-1.0.tar.bz2",
            "pkg-1.0-py3-none.whl",  # too few wheel parts
            "pkg-1.x-py3-none-any.whl",
            "pkg-1.0-x-py3-none-any.whl",  # a build tag must start with a digit
        ],
    )
    def test_names_that_do_not_parse_are_refused(self, filename):
        with pytest.raises(BadRequest, match="invalid"):
            parse_filename(filename)

    def test_overlong_names_are_refused(self):
        with pytest.raises(BadRequest, match="longer than 255"):
            check_filename("p" * 250 + "-1.0.tar.gz")

    def test_check_filename_returns_a_good_name(self):
        assert check_filename("pkg-1.0.tar.gz") == "pkg-1.0.tar.gz"


class TestVersions:
    @pytest.mark.parametrize("version", ["1.0", "1.0.0", "2!1.0rc1.post2.dev3", "1.0+local.7"])
    def test_pep440_versions_are_kept_as_given(self, version):
        assert check_version(version) == version

    @pytest.mark.parametrize("version", ["", "abc", "1.0-gamma", "1.0/../2", "1.0\x00"])
    def test_other_versions_are_refused(self, version):
        with pytest.raises(BadRequest, match="not a PEP 440 version"):
            check_version(version)

    @pytest.mark.parametrize(
        ("a", "b", "same"),
        [
            ("1.0", "1.0", True),
            ("1.0", "1.0.0", True),
            ("1.0-1", "1.0.post1", True),
            ("1.0", "1.1", False),
            ("weird", "weird", True),
            ("weird", "1.0", False),
        ],
    )
    def test_same_version_compares_by_pep440_then_by_text(self, a, b, same):
        assert same_version(a, b) is same


class TestReadCoreMetadata:
    def test_wheel_metadata(self):
        assert read("Hello_World-1.0-py3-none-any.whl", wheel_bytes()) == METADATA

    def test_sdist_tar_gz_pkg_info_at_the_top(self):
        content = tar_bytes(
            {
                "hello_world-1.0/hello_world.egg-info/PKG-INFO": b"not this one",
                "hello_world-1.0/PKG-INFO": METADATA,
                "hello_world-1.0/setup.py": b"",
            }
        )
        assert read("hello_world-1.0.tar.gz", content) == METADATA

    def test_sdist_zip(self):
        content = zip_bytes({"hello_world-1.0/PKG-INFO": METADATA})
        assert read("hello_world-1.0.zip", content) == METADATA

    def test_sdist_with_another_compression(self):
        content = tar_bytes({"hello_world-1.0/PKG-INFO": METADATA}, mode="w:bz2")
        assert read("hello_world-1.0.tar.gz", content) == METADATA

    @pytest.mark.parametrize(
        ("filename", "content"),
        [
            ("pkg-1.0-py3-none-any.whl", zip_bytes({"pkg/__init__.py": b""})),
            ("pkg-1.0-py3-none-any.whl", zip_bytes({"METADATA": METADATA})),
            ("pkg-1.0-py3-none-any.whl", zip_bytes({"a/b.dist-info/METADATA": METADATA})),
            ("pkg-1.0.tar.gz", tar_bytes({"pkg-1.0/setup.py": b""})),
            ("pkg-1.0.tar.gz", tar_bytes({"PKG-INFO": METADATA})),
            ("pkg-1.0.zip", zip_bytes({"pkg-1.0/setup.py": b""})),
        ],
    )
    def test_archives_without_metadata_give_none(self, filename, content):
        assert read(filename, content) is None

    def test_a_directory_named_like_metadata_is_not_metadata(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as archive:
            info = tarfile.TarInfo("pkg-1.0/PKG-INFO")
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        assert read("pkg-1.0.tar.gz", buf.getvalue()) is None

    @pytest.mark.parametrize(
        ("filename", "content"),
        [
            ("pkg-1.0-py3-none-any.whl", b"this is not a zip file"),
            ("pkg-1.0-py3-none-any.whl", wheel_bytes()[:40]),
            ("pkg-1.0.tar.gz", b"\x1f\x8b this is not gzip either"),
            ("pkg-1.0.tar.gz", tar_bytes({"pkg-1.0/PKG-INFO": METADATA})[:30]),
            ("pkg-1.0.zip", b"PK\x03\x04 broken"),
        ],
    )
    def test_corrupt_archives_are_bad_requests(self, filename, content):
        with pytest.raises(BadRequest, match="not a readable archive"):
            read(filename, content)

    def test_corrupt_compressed_metadata_is_a_bad_request(self):
        # Random text does not compress, so the deflate stream is long enough to damage.
        metadata = METADATA + bytes(range(256)).hex().encode() * 20
        content = bytearray(wheel_bytes(metadata))
        start = content.index(b"METADATA") + len(b"METADATA") + 4
        content[start : start + 16] = bytes(b ^ 0x5A for b in content[start : start + 16])
        with pytest.raises(BadRequest, match="not a readable archive"):
            read("Hello_World-1.0-py3-none-any.whl", bytes(content))

    def test_metadata_larger_than_the_guard_is_refused(self, monkeypatch):
        monkeypatch.setattr(distfiles, "MAX_METADATA_BYTES", len(METADATA) - 1)
        with pytest.raises(BadRequest, match="metadata is too large"):
            read("Hello_World-1.0-py3-none-any.whl", wheel_bytes())
        content = tar_bytes({"hello_world-1.0/PKG-INFO": METADATA})
        with pytest.raises(BadRequest, match="metadata is too large"):
            read("hello_world-1.0.tar.gz", content)

    def test_metadata_at_the_guard_is_read(self, monkeypatch):
        monkeypatch.setattr(distfiles, "MAX_METADATA_BYTES", len(METADATA))
        assert read("Hello_World-1.0-py3-none-any.whl", wheel_bytes()) == METADATA

    def test_doc_zips_have_no_core_metadata(self):
        content = zip_bytes({"index.html": b"<html></html>", "x/PKG-INFO": METADATA})
        assert read("hello-world-1.0.doc.zip", content) is None


class TestParseMetadata:
    def test_fields(self):
        fields = parse_metadata(METADATA)
        assert fields["name"] == "Hello_World"
        assert fields["version"] == "1.0"
        assert fields["summary"] == "says hello"
        assert fields["requires_python"] == ">=3.8"
        assert fields["requires_dist"] == ["requests>=2", 'attrs; extra == "fast"']
        assert fields["classifiers"] == [
            "Programming Language :: Python :: 3",
            "License :: OSI Approved :: MIT License",
        ]
        assert fields["description"] == "The long description.\n"

    def test_an_empty_description_is_left_out(self):
        fields = parse_metadata(b"Metadata-Version: 2.1\nName: x\nVersion: 1.0\n\n")
        assert "description" not in fields
        assert fields == {"metadata_version": "2.1", "name": "x", "version": "1.0"}

    def test_garbage_gives_no_fields_and_no_error(self):
        assert parse_metadata(b"no header lines here\n\xff\xfe") == {}
