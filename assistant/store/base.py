"""The file store boundary: `BlobStore` keeps uploads where the API and every worker can read them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    def put_file(self, src: Path, key: str) -> str:
        """Move the local file `src` into the store under `key` (e.g. `uploads/<id>.wav`); return its ref."""
        ...

    @contextmanager
    def local_copy(self, ref: str) -> Iterator[Path]:
        """A local path to read `ref` from for the duration of the block (FileNotFoundError if gone)."""
        ...

    def exists(self, ref: str) -> bool: ...

    def delete(self, ref: str) -> None:
        """Remove `ref`; a missing blob is not an error (deletes are retried and repeated)."""
        ...
