"""Files every process can reach: uploads are written by the API and read by whichever worker runs the job.

`BlobStore` (`base.py`) is the boundary; `FilesystemBlobStore` is the implementation: a folder on a disk that
the API and every worker mount at the same path (the data dir on one machine; an NFS/SMB/EFS/CephFS share, or a
docker volume, with several). A reference (`ref`) is what the database stores: for the filesystem store the
absolute path inside its root, so rows written before the store existed (absolute paths under the data dir)
still resolve. An S3-compatible store would return `s3://bucket/key` refs and download in `local_copy`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.config import Settings
from assistant.store.base import BlobStore


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in blocks (uploads, recordings and model weights can be large)."""
    with Path(path).open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class BlobError(ValueError):
    """A key or reference that points outside the store."""


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    @classmethod
    def from_settings(cls, settings: Settings) -> FilesystemBlobStore:
        return cls(settings.blob_dir or settings.data_dir)

    def _key_path(self, key: str) -> Path:
        parts = key.split("/")  # not PurePosixPath: it would quietly drop "." and "" parts
        if not key or any(p in ("..", ".", "") for p in parts) or "\\" in key or "\0" in key:
            raise BlobError(f"invalid blob key {key!r}")
        return self.root.joinpath(*parts)

    def path(self, ref: str) -> Path:
        """The file behind `ref` (an absolute path inside the root, or a key relative to it)."""
        p = Path(ref)
        if not p.is_absolute():
            return self._key_path(ref)
        resolved = p.resolve()
        if not resolved.is_relative_to(self.root):
            raise BlobError("blob reference outside the store")
        return resolved

    def put_file(self, src: Path, key: str) -> str:
        dst = self._key_path(key)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dst)  # atomic when the temp file is on the same filesystem
        except OSError as exc:
            if exc.errno != 18:  # EXDEV: the share is another filesystem; copy then rename into place
                raise
            part = dst.with_name(dst.name + ".part")
            shutil.copyfile(src, part)
            os.replace(part, dst)
            Path(src).unlink(missing_ok=True)
        return str(dst)

    @contextmanager
    def local_copy(self, ref: str) -> Iterator[Path]:
        p = self.path(ref)
        if not p.is_file():
            raise FileNotFoundError("the recording for this job no longer exists")
        yield p

    def exists(self, ref: str) -> bool:
        try:
            return self.path(ref).is_file()
        except BlobError:
            return False

    def delete(self, ref: str) -> None:
        self.path(ref).unlink(missing_ok=True)


def blob_store(settings: Settings) -> BlobStore:
    return FilesystemBlobStore.from_settings(settings)
