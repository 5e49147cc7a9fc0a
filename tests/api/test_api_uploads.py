"""Bad uploads get a clear 4xx JSON error and leave nothing behind (no file, no row)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from api_helpers import Client, tone_wav
from sqlalchemy import func, select

from assistant.store.tables import Job, Recording, User


def _nothing_left(client: Client, data_dir: Path) -> None:
    uploads = data_dir / "uploads"
    leftovers = [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []
    assert leftovers == [], f"partial files left: {leftovers}"
    with client.http.app.state.db.session() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(func.count()).select_from(Recording)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def _post(client: Client, content: bytes, name: str = "a.wav", **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/api/recordings", files={"file": (name, content, "audio/wav")}, data=fields)


def test_over_the_limit_is_413_and_writes_at_most_limit_plus_a_chunk(alice: Client, app_settings, monkeypatch) -> None:
    import assistant.api.uploads as uploads

    limit = app_settings.limits.max_upload_bytes
    sizes: list[int] = []
    real_discard = uploads.discard

    def spy(upload):  # type: ignore[no-untyped-def]
        if upload.file_path is not None and upload.file_path.exists():
            sizes.append(upload.file_path.stat().st_size)
        real_discard(upload)

    monkeypatch.setattr(uploads, "discard", spy)
    body = b"RIFF" + b"\0" * (limit * 2)
    # No Content-Length precheck: stream it chunked so the counting path is what refuses it.
    def gen():  # type: ignore[no-untyped-def]
        boundary = b"xyzBOUNDARY"
        yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]
        yield b"\r\n--" + boundary + b"--\r\n"

    r = alice.post("/api/recordings", content=gen(),
                        headers={"Content-Type": "multipart/form-data; boundary=xyzBOUNDARY"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert str(limit) in r.json()["detail"]
    assert sizes and sizes[0] <= limit + 65536, sizes
    _nothing_left(alice, app_settings.data_dir)


def test_declared_content_length_over_the_limit_is_refused_at_once(alice: Client, app_settings) -> None:
    r = _post(alice, b"RIFF" + b"\0" * (app_settings.limits.max_upload_bytes + 100_000))
    assert r.status_code == 413
    _nothing_left(alice, app_settings.data_dir)


@pytest.mark.parametrize(
    "content, name, statuses",
    [
        (b"this is not audio at all, just some text pretending" * 20, "notes.m4a", {415, 422}),
        (bytes(range(256)) * 40, "noise.bin", {415, 422}),
        (b"", "empty.wav", {422}),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 30, "broken.wav", {422}),
    ],
)
def test_garbage_renamed_and_empty_are_refused(alice: Client, app_settings, content: bytes, name: str,
                                               statuses: set[int]) -> None:
    r = _post(alice, content, name)
    assert r.status_code in statuses, r.text
    body = r.json()
    assert body["error"] and body["detail"]
    _nothing_left(alice, app_settings.data_dir)


def test_missing_file_field_and_not_multipart(alice: Client, app_settings) -> None:
    r = alice.post("/api/recordings", data={"template": "sc_contact_note"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = alice.post("/api/recordings", content=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    _nothing_left(alice, app_settings.data_dir)


def test_unknown_template_is_422(alice: Client, app_settings) -> None:
    r = _post(alice, tone_wav(), template="no_such_template")
    assert r.status_code == 422 and r.json()["error"] == "unknown_template"
    _nothing_left(alice, app_settings.data_dir)


def test_good_upload_is_on_disk_with_its_job_before_202(alice: Client, app_settings) -> None:
    r = _post(alice, tone_wav(1.5), consent="verbal consent from Leanne")
    assert r.status_code == 202, r.text
    ids = r.json()
    with alice.http.app.state.db.session() as s:  # type: ignore[attr-defined]
        rec = s.get(Recording, ids["recording_id"])
        job = s.get(Job, ids["job_id"])
        assert Path(rec.path).is_file() and rec.size > 0 and rec.format == "wav"
        assert rec.consent == "verbal consent from Leanne"
        assert job.recording_id == rec.id
    # The delete route removes both the file and the row.
    assert alice.delete(f"/api/recordings/{ids['recording_id']}").status_code == 200
    assert not Path(rec.path).exists()


def test_the_upload_body_in_the_spec_is_the_upload_form(alice: Client) -> None:
    from assistant.api.schemas import UploadForm

    op = alice.get("/openapi.json").json()["paths"]["/api/recordings"]["post"]
    body = op["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert list(body["properties"]) == list(UploadForm.model_fields) and body["required"] == ["file"]
    fields = body["properties"]
    assert fields["file"] == {"type": "string", "format": "binary", "title": "File",
                              "description": "wav, mp3, m4a/mp4, ogg/opus, flac or webm"}
    assert fields["engine"]["enum"] == ["llm", "extractive"] and fields["consent"]["maxLength"] == 200
    speakers = fields["speakers"]
    assert (speakers["type"], speakers["minimum"], speakers["maximum"]) == ("integer", 1, 20)
    assert fields["present"]["type"] == "string" and fields["present"]["maxLength"] == 2000


def test_the_first_field_in_error_is_the_one_reported(alice: Client, app_settings) -> None:
    r = alice.post("/api/recordings", files={"file": ("a.wav", tone_wav(), "audio/wav")},
                   data={"template": "no_such_template", "engine": "gpt", "speakers": "99"})
    assert r.status_code == 422 and r.json()["error"] == "unknown_template"
    r = alice.post("/api/recordings", files={"file": ("a.wav", tone_wav(), "audio/wav")},
                   data={"engine": "gpt", "speakers": "99", "present": "speaker_1"})
    assert r.json() == {"error": "invalid_request", "detail": "engine must be 'llm' or 'extractive'"}
    r = alice.post("/api/recordings", files={"file": ("a.wav", tone_wav(), "audio/wav")},
                   data={"speakers": "99", "present": "speaker_1"})
    assert r.json() == {"error": "invalid_request", "detail": "speakers must be a whole number from 1 to 20"}
    r = alice.post("/api/recordings", files={"file": ("a.wav", tone_wav(), "audio/wav")},
                   data={"present": "speaker_1", "consent": ""})
    assert r.json() == {"error": "invalid_request",
                        "detail": "a person present cannot be named like a speaker label (speaker_1)"}
    with alice.http.app.state.db.session() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(func.count()).select_from(Recording)) == 0


def test_notes_validation(alice: Client) -> None:
    assert alice.post("/api/notes", json={"text": "", "template": "sc_contact_note"}).status_code == 422
    r = alice.post("/api/notes", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert alice.post("/api/notes", json={"text": "hi", "template": "zzz"}).status_code == 422
    r = alice.post("/api/notes", content=b"text=hi", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def _thread_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of what the upload route hands to a worker thread."""
    import assistant.api.routes.recordings as routes

    trips: list[str] = []
    real = routes.run_in_threadpool

    async def spy(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        trips.append(getattr(fn, "__name__", "?"))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(routes, "run_in_threadpool", spy)
    return trips


def _stored(client: Client, ids: dict[str, str]) -> bool:
    with client.http.app.state.db.session() as s:  # type: ignore[attr-defined]
        rec, job = s.get(Recording, ids["recording_id"]), s.get(Job, ids["job_id"])
        return rec is not None and job is not None and Path(rec.path).is_file() and job.recording_id == rec.id


def test_a_small_upload_is_stored_without_a_thread_trip(alice: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    trips = _thread_trips(monkeypatch)
    r = _post(alice, tone_wav(1.5))
    assert r.status_code == 202 and _stored(alice, r.json())
    assert trips == []


def test_big_and_undeclared_uploads_take_one_thread_trip(alice: Client, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    import assistant.api.routes.recordings as routes
    from assistant.audio.synth import encode

    trips = _thread_trips(monkeypatch)
    # A browser recording declares no duration: it is decoded to find it, which is no work for the event loop.
    t = np.arange(16000 * 2) / 16000
    live = encode(tmp_path / "rec.webm", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000, "webm",
                  live=True)
    r = _post(alice, live.read_bytes(), name="rec.webm")
    assert r.status_code == 202 and _stored(alice, r.json())
    assert trips == ["<lambda>"], (trips, r.json())
    monkeypatch.setattr(routes, "QUICK_ACCEPT_BYTES", 1000)
    r = _post(alice, tone_wav(1.5))
    assert r.status_code == 202 and _stored(alice, r.json())
    assert trips == ["<lambda>", "<lambda>"]


def _upload_while_another_writer_holds_the_lock(alice: Client, release_after_s: float) -> None:
    """Upload while another thread holds the database's write lock; it lets go after `release_after_s`."""
    db = alice.http.app.state.db  # type: ignore[attr-defined]
    holding, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with db.session() as s:
            s.add(User(name="holder", token_hash="e" * 64))
            s.flush()
            holding.set()
            release.wait(timeout=30)

    writer = threading.Thread(target=other_writer)
    writer.start()
    try:
        assert holding.wait(timeout=30)
        threading.Timer(release_after_s, release.set).start()
        r = _post(alice, tone_wav(1.5))
    finally:
        release.set()
        writer.join(timeout=30)
    assert r.status_code == 202, r.text
    assert _stored(alice, r.json())


def test_an_upload_meeting_another_writer_waits_its_turn(alice: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's busy handler: the upload's commit waits until the other writer lets go, then commits, with no
    thread trip for a small upload."""
    trips = _thread_trips(monkeypatch)
    _upload_while_another_writer_holds_the_lock(alice, release_after_s=0.2)
    assert trips == []


def test_warm_up_probes_a_real_wav_kept_from_the_sweep_and_leaves_nothing(app_settings, tmp_path: Path) -> None:
    from assistant.api.app import inspect_audio, warm_up
    from assistant.api.uploads import sweep_partial_uploads

    real = inspect_audio(app_settings)
    seen: list[dict] = []

    def check(path: Path, **kwargs: object) -> dict:
        assert sweep_partial_uploads(tmp_path) == 0, "another process's start-up sweep took the warm-up file"
        seen.append(real(path, **kwargs))
        return seen[-1]

    warm_up(check, tmp_path)
    assert seen == [{"format": "wav", "duration": 1.0}]
    assert list(tmp_path.iterdir()) == []


def test_a_failed_warm_up_leaves_nothing(tmp_path: Path) -> None:
    from assistant.api.app import warm_up

    def check(path: Path, **kwargs: object) -> dict:
        raise RuntimeError("FFmpeg could not be loaded")

    with pytest.raises(RuntimeError):
        warm_up(check, tmp_path)
    assert list(tmp_path.iterdir()) == []
