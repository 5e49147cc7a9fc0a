"""The filesystem BlobStore: keys stay inside the root, refs resolve on every process that mounts it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.store.blobs import BlobError, FilesystemBlobStore, blob_store


def test_put_read_delete(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    src = tmp_path / "upload.part"
    src.write_bytes(b"audio")
    ref = store.put_file(src, "uploads/abc.wav")
    assert not src.exists() and Path(ref).is_absolute() and store.exists(ref)
    with store.local_copy(ref) as path:
        assert path.read_bytes() == b"audio"
    # Another process (a worker) with its own store object over the same mount resolves the same ref.
    with FilesystemBlobStore(tmp_path / "blobs").local_copy(ref) as path:
        assert path.read_bytes() == b"audio"
    store.delete(ref)
    store.delete(ref)  # deleting twice is fine
    assert not store.exists(ref)
    with pytest.raises(FileNotFoundError), store.local_copy(ref):
        pass


@pytest.mark.parametrize(
    "key", ["../escape.wav", "/etc/passwd", "uploads/../../x", "", "a\\b", "uploads/./x", "uploads//x"]
)
def test_keys_cannot_leave_the_root(tmp_path: Path, key: str) -> None:
    store = FilesystemBlobStore(tmp_path)
    src = tmp_path / "f"
    src.write_bytes(b"x")
    with pytest.raises(BlobError):
        store.put_file(src, key)


def test_refs_outside_the_root_are_refused(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    with pytest.raises(BlobError):
        store.path(str(outside))
    assert not store.exists(str(outside))
    with pytest.raises(BlobError):
        store.delete(str(tmp_path / "blobs" / ".." / "secret.txt"))
    assert outside.exists()


def test_a_share_on_another_filesystem_gets_a_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FilesystemBlobStore(tmp_path / "share")
    src = tmp_path / "tmp.part"
    src.write_bytes(b"abc")
    real_replace = os.replace

    def cross_device(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
        if str(a) == str(src):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(a, b)

    monkeypatch.setattr(os, "replace", cross_device)
    ref = store.put_file(src, "uploads/x.wav")
    assert Path(ref).read_bytes() == b"abc" and not src.exists()
    assert not list((tmp_path / "share" / "uploads").glob("*.part"))


def test_settings_choose_the_root(tmp_path: Path) -> None:
    default = blob_store(Settings(data_dir=tmp_path / "data"))
    shared = blob_store(Settings(data_dir=tmp_path / "data", blob_dir=tmp_path / "nfs"))
    assert isinstance(default, FilesystemBlobStore) and default.root == (tmp_path / "data").resolve()
    assert isinstance(shared, FilesystemBlobStore) and shared.root == (tmp_path / "nfs").resolve()
