"""The upload handler: every uploaded file goes to a staging file under ARTIFACT_ROOT/tmp and is
hashed as its chunks arrive, so a large upload is read once, never held in memory, and its
sha256 is known when the view runs (the artifact store adopts the file without copying it)."""

from __future__ import annotations

import hashlib
import tempfile

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from common.errors import PayloadTooLarge


class HashedUploadedFile(TemporaryUploadedFile):
    """A TemporaryUploadedFile in the staging folder that carries its sha256 once complete."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        from common.artifact_store import staging_dir

        # As TemporaryUploadedFile, but in the staging folder: moving the file into local
        # storage is then a rename on the same filesystem.
        file = tempfile.NamedTemporaryFile(suffix=".upload", dir=staging_dir())  # noqa: SIM115
        super(TemporaryUploadedFile, self).__init__(
            file, name, content_type, size, charset, content_type_extra
        )
        self.sha256: str | None = None


class HashingUploadHandler(FileUploadHandler):
    """Writes each file to a HashedUploadedFile, hashing while streaming; refuses a file past
    MAX_ARTIFACT_BYTES as soon as it grows past it (a body without Content-Length too)."""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.file = HashedUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )
        self._digest = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._size += len(raw_data)
        if self._size > settings.MAX_ARTIFACT_BYTES:
            self.file.close()
            raise PayloadTooLarge(
                f"The upload is larger than the limit of {settings.MAX_ARTIFACT_BYTES} bytes "
                "(MAX_ARTIFACT_BYTES)."
            )
        self._digest.update(raw_data)
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUploadedFile:
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self._digest.hexdigest()
        return self.file

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            self.file.close()  # removes the staging file
