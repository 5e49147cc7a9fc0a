"""Operator commands behind `assistant jobs list` and `assistant jobs retry`: failed jobs are the dead-letter
list (state `failed`, with the reason), and a retry puts a job back on its queue."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select

from assistant.config import Settings
from assistant.store.db import Database
from assistant.store.tables import Job


class JobRow(BaseModel):
    id: str
    owner_id: str
    kind: str
    state: str
    stage: str
    attempts: int
    error: str | None
    record_id: str | None
    updated_at: datetime


def list_jobs(db: Database, state: str | None = None, limit: int = 50) -> list[JobRow]:
    with db.session() as s:
        query = select(Job).order_by(Job.updated_at.desc()).limit(limit)
        if state:
            query = query.where(Job.state == state)
        return [JobRow(id=j.id, owner_id=j.owner_id, kind=j.kind, state=j.state, stage=j.stage,
                       attempts=j.attempts, error=j.error, record_id=j.record_id, updated_at=j.updated_at)
                for j in s.scalars(query)]


class RetryError(ValueError):
    pass


def retry_job(settings: Settings, db: Database, job_id: str) -> str:
    """Reset a failed (or stuck) job to `queued` and hand it to the configured queue; says what happened.

    A saved transcript is kept, so a job that failed while drafting is not transcribed again. Re-queuing a
    job that is in fact still running is harmless: the stage lock makes the duplicate wait, then a no-op."""
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise RetryError(f"no job {job_id}")
        if job.state == "done":
            raise RetryError(f"job {job_id} is done (record {job.record_id}); nothing to retry")
        job.state, job.error, job.attempts = "queued", None, 0
        job.stage = "queued (retry)"
        job.progress = 0.5 if job.transcript is not None and job.kind != "notes" else 0.0
    if settings.jobs.queue == "celery":
        from assistant.jobs.celery_queue import CeleryJobQueue

        queue = CeleryJobQueue(settings, db)
        try:
            queue.submit(job_id)
        finally:
            queue.stop()
        with db.session() as s:
            job = s.get(Job, job_id)
            if job is not None and job.state == "failed":
                raise RetryError(job.error or "could not queue the job")
        return f"job {job_id} re-queued on {queue.queue_for(job_id)}"
    return f"job {job_id} marked queued; the server runs it at its next start (ASSISTANT_QUEUE=local)"
