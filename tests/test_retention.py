"""Retention policy with frozen time: audio after approval, old working transcripts, stale drafts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from assistant.config import Settings
from assistant.retention import cleanup
from assistant.store.db import Database
from assistant.store.tables import Job, Record, Recording, User


def _seed(db: Database, tmp: Path, t0: datetime) -> dict[str, str]:
    with db.session() as s:
        user = User(name="u", token_hash="h" * 64)
        s.add(user)
        s.flush()
        ids: dict[str, str] = {}
        for name in ("approved", "pending"):
            audio = tmp / f"{name}.wav"
            audio.write_bytes(b"RIFF")
            rec = Recording(owner_id=user.id, filename=audio.name, path=str(audio), format="wav", size=4,
                            sha256="0" * 64, created_at=t0)
            s.add(rec)
            s.flush()
            job = Job(owner_id=user.id, kind="audio", template_id="sc_contact_note", recording_id=rec.id,
                      state="done", transcript={"segments": []}, created_at=t0, updated_at=t0)
            s.add(job)
            s.flush()
            row = Record(owner_id=user.id, job_id=job.id, recording_id=rec.id, template_id="sc_contact_note",
                         state="approved" if name == "approved" else "draft", created_at=t0, updated_at=t0,
                         data={"approved_at": t0.isoformat()} if name == "approved" else {})
            s.add(row)
            s.flush()
            ids[name], ids[f"{name}_job"], ids[f"{name}_record"] = rec.id, job.id, row.id
        return ids


def test_policy_applies_at_the_right_times_and_is_idempotent(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", retain_audio_after_approval_days=1, retain_audio_days=30,
                        retain_transcript_days=14, retain_unapproved_days=90)
    db = Database(settings)
    t0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    ids = _seed(db, tmp_path, t0)

    # Same day: nothing is due.
    assert cleanup(db, settings, now=t0 + timedelta(hours=2)).model_dump() == {
        "audio_deleted": 0, "transcripts_cleared": 0, "drafts_deleted": 0}
    # Two days later: the approved record's audio goes; the unapproved one's stays.
    report = cleanup(db, settings, now=t0 + timedelta(days=2))
    assert report.audio_deleted == 1
    assert not (tmp_path / "approved.wav").exists() and (tmp_path / "pending.wav").exists()
    with db.session() as s:
        assert s.get(Recording, ids["approved"]) is None
        assert s.get(Job, ids["approved_job"]).recording_id is None
    # Dry run reports without deleting.
    dry = cleanup(db, settings, now=t0 + timedelta(days=31), dry_run=True)
    assert dry.audio_deleted == 1 and (tmp_path / "pending.wav").exists()
    # After 31 days: the remaining audio (age limit) and both working transcripts.
    report = cleanup(db, settings, now=t0 + timedelta(days=31))
    assert (report.audio_deleted, report.transcripts_cleared, report.drafts_deleted) == (1, 2, 0)
    # After 91 days: the stale unapproved draft; the approved record stays for good.
    report = cleanup(db, settings, now=t0 + timedelta(days=91))
    assert report.drafts_deleted == 1
    with db.session() as s:
        assert s.get(Record, ids["pending_record"]) is None
        assert s.get(Record, ids["approved_record"]) is not None
    # Idempotent: running again changes nothing.
    again = cleanup(db, settings, now=t0 + timedelta(days=91))
    assert again.model_dump() == {"audio_deleted": 0, "transcripts_cleared": 0, "drafts_deleted": 0}


def test_default_policy_deletes_audio_at_the_first_cleanup_after_approval(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    db = Database(settings)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    _seed(db, tmp_path, t0)
    assert cleanup(db, settings, now=t0 + timedelta(minutes=1)).audio_deleted == 1
