"""A ``multipart/form-data`` body that streams its one file part and reports progress."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path

#: Bytes read from the file per chunk sent.
CHUNK_SIZE = 64 * 1024


def _quote(value: str) -> str:
    # Quotes and line breaks would end the header value early.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartBody:
    """Text fields followed by one file part, sent without reading the file into memory.

    ``requests`` sends an iterable with a length as a streamed body with a
    ``Content-Length``, which is what the upload endpoint expects.
    """

    def __init__(
        self,
        fields: Sequence[tuple[str, str]],
        file_field: str,
        path: Path,
        *,
        filename: str | None = None,
    ) -> None:
        self.boundary = secrets.token_hex(16)
        self.path = path
        self.file_size = path.stat().st_size
        self.on_chunk: Callable[[int], None] = lambda count: None
        self._head = b"".join(self._field_part(name, value) for name, value in fields)
        disposition = (
            f'form-data; name="{_quote(file_field)}"; filename="{_quote(filename or path.name)}"'
        )
        self._head += self._part_header(disposition, "application/octet-stream")
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self.file_size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self._sent(self._head)
        with self.path.open("rb") as fp:
            while chunk := fp.read(CHUNK_SIZE):
                yield self._sent(chunk)
        yield self._sent(self._tail)

    def _sent(self, chunk: bytes) -> bytes:
        self.on_chunk(len(chunk))
        return chunk

    def _part_header(self, disposition: str, content_type: str | None = None) -> bytes:
        lines = [f"--{self.boundary}", f"Content-Disposition: {disposition}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _field_part(self, name: str, value: str) -> bytes:
        header = self._part_header(f'form-data; name="{_quote(name)}"')
        return header + value.encode("utf-8") + b"\r\n"
