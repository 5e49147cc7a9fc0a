"""Jobs: a job's status, polled or streamed as server-sent events."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import Table, bindparam, select

from assistant.api.errors import ApiError
from assistant.api.routes.common import User
from assistant.api.schemas import JobEvent, JobOut, PresentPerson
from assistant.jobs.reaper import describe
from assistant.store.tables import Job

router = APIRouter(prefix="/api")

_JOBS: Table = Job.__table__  # type: ignore[assignment]
_JOB_BY_ID = select(_JOBS).where(_JOBS.c.id == bindparam("job_id"))


def job_out(job: Any) -> JobOut:
    return JobOut(id=job.id, state=job.state, stage=job.stage, progress=job.progress, error=job.error,  # type: ignore[arg-type]
                  record_id=job.record_id, recording_id=job.recording_id, template=job.template_id,
                  speakers=job.speakers, present=[PresentPerson.model_validate(p) for p in job.present or []],
                  history=[JobEvent(at=e.get("at", ""), text=describe(e)) for e in job.history or []],
                  created_at=job.created_at, updated_at=job.updated_at)


def _read_job(db: Any, job_id: str, owner: str) -> JobOut:
    """A job's status, read with one prebuilt Core statement: polls are the most frequent request, and the
    ORM would cost several times as much."""
    with db.engine.connect() as conn:
        job = conn.execute(_JOB_BY_ID, {"job_id": job_id}).first() if len(job_id) <= 64 else None
    if job is None or job.owner_id != owner:
        raise ApiError(404, "not_found", "no such job")
    return job_out(job)


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(job_id: str, request: Request, user: User) -> JobOut:
    db = request.app.state.db
    # On SQLite the read costs less than a worker-thread trip, and in WAL mode it never waits for a writer.
    return _read_job(db, job_id, user) if db.embedded else await run_in_threadpool(_read_job, db, job_id, user)


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def job_events(job_id: str, request: Request, user: User) -> StreamingResponse:
    """Server-sent events: one `job` event per change, ending when the job is done or failed."""
    db = request.app.state.db
    first = await run_in_threadpool(_read_job, db, job_id, user)  # 404 before the stream starts

    async def stream() -> Any:
        last = None
        job = first
        while True:
            payload = job.model_dump_json()
            if payload != last:
                yield f"event: job\ndata: {payload}\n\n"
                last = payload
            if job.state in ("done", "failed") or await request.is_disconnected():
                return
            await asyncio.sleep(0.5)
            job = await run_in_threadpool(_read_job, db, job_id, user)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
