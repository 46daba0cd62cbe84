"""A multipart/form-data body streamed from disk with a known length, so a large artifact is
never read whole into memory and the server sees a Content-Length (Django needs one)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

CHUNK = 1 << 20


class MultipartFile:
    """Form fields then one file part; `read(n)` serves the body in order, calling
    `on_progress(bytes_of_file_sent)` as the file goes out."""

    def __init__(self, fields: list[tuple[str, str]], file_field: str, path: Path,
                 on_progress: Callable[[int], None] | None = None):
        self.boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode() + b"\r\n"
            for name, value in fields
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        self._parts = [head, path, f"\r\n--{self.boundary}--\r\n".encode()]
        self._length = len(head) + path.stat().st_size + len(self._parts[2])
        self._on_progress = on_progress or (lambda _n: None)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        yield self._parts[0]
        with open(self._parts[1], "rb") as fh:
            while chunk := fh.read(CHUNK):
                self._on_progress(len(chunk))
                yield chunk
        yield self._parts[2]
