"""Retention: delete what policy says must not be kept. Idempotent; run by the server on a timer and by
`assistant cleanup`. Time is a parameter so the policy can be tested with frozen time."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select

from assistant.audit import append as audit_append
from assistant.config import Settings
from assistant.store.db import Database
from assistant.store.tables import Job, Record, Recording, RecordVersion

log = logging.getLogger(__name__)


class CleanupReport(BaseModel):
    audio_deleted: int = 0
    transcripts_cleared: int = 0
    drafts_deleted: int = 0


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _older(dt: datetime | None, now: datetime, days: float) -> bool:
    return days > 0 and dt is not None and _aware(dt) < now - timedelta(days=days)


def cleanup(db: Database, settings: Settings, now: datetime | None = None, dry_run: bool = False) -> CleanupReport:
    now = now or datetime.now(UTC)
    report = CleanupReport()
    files: list[Path] = []
    with db.session() as s:
        approved_at: dict[str, datetime | None] = {}
        for row in s.scalars(select(Record).where(Record.state == "approved", Record.recording_id.is_not(None))):
            when = row.data.get("approved_at")
            approved_at[row.recording_id] = datetime.fromisoformat(when) if when else row.updated_at
        for rec in s.scalars(select(Recording)):
            after_approval = rec.id in approved_at and (
                settings.retention.audio_after_approval_days == 0
                or _older(approved_at[rec.id], now, settings.retention.audio_after_approval_days))
            if after_approval or _older(rec.created_at, now, settings.retention.audio_days):
                report.audio_deleted += 1
                files.append(Path(rec.path))
                if not dry_run:
                    for job in s.scalars(select(Job).where(Job.recording_id == rec.id)):
                        job.recording_id = None
                    s.delete(rec)
                    audit_append(s, "retention", "delete", objects={"recording": rec.id})
        for job in s.scalars(select(Job).where(Job.state.in_(("done", "failed")))):
            if (job.transcript is not None or job.input_text is not None) and _older(
                    job.created_at, now, settings.retention.transcript_days):
                report.transcripts_cleared += 1
                if not dry_run:
                    job.transcript, job.input_text = None, None
        for row in s.scalars(select(Record).where(Record.state.in_(("draft", "rejected")))):
            if _older(row.updated_at, now, settings.retention.unapproved_days):
                report.drafts_deleted += 1
                if not dry_run:
                    for v in s.scalars(select(RecordVersion).where(RecordVersion.record_id == row.id)):
                        s.delete(v)
                    s.delete(row)
                    audit_append(s, "retention", "delete", objects={"record": row.id})
        if dry_run:
            s.rollback()
        else:
            # Files go before the rows commit: if the commit fails, a row pointing at a deleted file is
            # retried next time, whereas a committed delete with a surviving file would keep audio forever.
            for path in files:
                path.unlink(missing_ok=True)
    if report.audio_deleted or report.transcripts_cleared or report.drafts_deleted:
        log.info("retention clean-up: %s", report.model_dump())
    return report


class CleanupTimer:
    """Runs `cleanup` every `interval` seconds on a daemon thread until stopped."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db, self._settings = db, settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._settings.retention.cleanup_interval_s <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._settings.retention.cleanup_interval_s):
            try:
                cleanup(self._db, self._settings)
            except Exception:
                log.exception("retention clean-up failed; will retry at the next interval")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
