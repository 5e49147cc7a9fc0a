"""Decode bombs (both guards) and a full disk during upload (507, nothing left behind)."""

from __future__ import annotations

import errno
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Client
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from assistant.api.app import create_app
from assistant.api.auth import add_user
from assistant.config import Settings
from assistant.jobs.stages import Engines
from assistant.store.tables import Job, Recording

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))
from generators import flac_bomb, wav  # noqa: E402

LIMIT_S = 600.0


def _client(settings: Settings, engines: Any) -> tuple[TestClient, Client]:
    s = settings.updated(auth_required=True, max_audio_seconds=LIMIT_S, max_upload_bytes=256 * 1024)
    http = TestClient(create_app(s, engines=engines), raise_server_exceptions=False)
    http.__enter__()
    return http, Client(http, add_user(http.app.state.db, "alice"))  # type: ignore[attr-defined]


def _upload(client: Client, data: bytes, name: str = "visit.flac") -> Any:
    return client.post("/api/recordings", files={"file": (name, data, "audio/flac")},
                       data={"engine": "extractive"})


def _leftovers(settings: Settings) -> list[Path]:
    uploads = settings.data_dir / "uploads"
    return [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []


def test_a_declared_bomb_is_refused_by_the_probe_before_any_decoding(settings: Settings) -> None:
    bomb = flac_bomb(actual_seconds=4 * 3600)
    assert len(bomb) < 4096  # 3 KB that decode to four hours
    http, alice = _client(settings, engines=None)
    try:
        r = _upload(alice, bomb)
        assert r.status_code == 413 and r.json()["error"] == "too_long", r.text
        assert "14400 s" in r.json()["detail"]  # the declared duration, read without decoding
        r = _upload(alice, flac_bomb(actual_seconds=4 * 3600, declared_seconds=0))  # declares nothing
        assert r.status_code == 413 and r.json()["error"] == "too_long"  # decoded, stopped at the limit
        assert not _leftovers(settings)
        with http.app.state.db.session() as s:  # type: ignore[attr-defined]
            assert s.scalar(select(func.count()).select_from(Recording)) == 0
    finally:
        http.__exit__(None, None, None)


def test_a_bomb_that_lies_about_its_duration_is_stopped_by_the_transcription_stage(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """STREAMINFO says 10 s, the frames hold 4 h: the upload probe accepts it; the job decodes with
    max_seconds and fails with the reason, before Whisper is even loaded."""
    import assistant.transcribe.engine as engine

    def no_model(*_: Any, **__: Any) -> Any:
        raise AssertionError("Whisper must not be loaded for a recording over the limit")

    monkeypatch.setattr(engine, "load_model", no_model)
    s = settings.updated(max_audio_seconds=LIMIT_S)
    http, alice = _client(s, engines=Engines(s))
    try:
        r = _upload(alice, flac_bomb(actual_seconds=4 * 3600, declared_seconds=10))
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        deadline = time.monotonic() + 120
        while (job := alice.get(f"/api/jobs/{job_id}").json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert job["state"] == "failed"
        assert job["error"].startswith("AudioError: recording is longer than the limit of 600 s")
        assert job["record_id"] is None
    finally:
        http.__exit__(None, None, None)


class FullDisk:
    """A file object that accepts `room` bytes, then fails every write like a full disk."""

    def __init__(self, real: Any, room: int) -> None:
        self.real, self.room = real, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.real.write(data)

    def close(self) -> None:
        self.real.close()


def test_disk_full_while_streaming_the_upload_gives_507_and_no_partial_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import assistant.api.uploads as uploads

    real_fdopen = uploads.os.fdopen
    monkeypatch.setattr(uploads.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode), room=20_000))
    http, alice = _client(settings, engines=None)
    try:
        r = _upload(alice, wav(seconds=2.0), name="visit.wav")
        assert r.status_code == 507, r.text
        body = r.json()
        assert body["error"] == "insufficient_storage" and "disk is full" in body["detail"]
        assert not _leftovers(settings)
        with http.app.state.db.session() as s:  # type: ignore[attr-defined]
            assert s.scalar(select(func.count()).select_from(Recording)) == 0
            assert s.scalar(select(func.count()).select_from(Job)) == 0
        monkeypatch.setattr(uploads.os, "fdopen", real_fdopen)  # space again: the same upload now works
        assert _upload(alice, wav(seconds=2.0), name="visit.wav").status_code == 202
    finally:
        http.__exit__(None, None, None)


def test_disk_full_while_storing_the_upload_gives_507_and_no_partial_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from assistant.store.blobs import FilesystemBlobStore

    def full(self: Any, src: Path, key: str) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FilesystemBlobStore, "put_file", full)
    http, alice = _client(settings, engines=None)
    try:
        r = _upload(alice, wav(seconds=1.0), name="visit.wav")
        assert r.status_code == 507 and r.json()["error"] == "insufficient_storage"
        assert not _leftovers(settings)
        with http.app.state.db.session() as s:  # type: ignore[attr-defined]
            assert s.scalar(select(func.count()).select_from(Recording)) == 0
    finally:
        http.__exit__(None, None, None)
