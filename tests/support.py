"""Helpers shared by test folders (importable as `support`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED_DATA = REPO.parent / "shared" / "data"


def require(condition: bool, reason: str) -> None:
    """Skip loudly on a newcomer's laptop; fail in CI, where everything must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(f"SKIPPED (missing prerequisite): {reason}")


def save_finished_record(session, owner_id: str, record, **job_fields: object) -> str:  # type: ignore[no-untyped-def]
    """Store `record` as a finished job leaves it (job row, record row, AI version 1) inside `session`;
    returns the record id. Tests that need no Whisper or LLM start from here."""
    from assistant.store.tables import Job, Record, RecordVersion

    job = Job(owner_id=owner_id, template_id=record.template_id, state="done", stage="done", progress=1.0,
              **{"kind": "notes", **job_fields})
    session.add(job)
    session.flush()
    row = Record(owner_id=owner_id, job_id=job.id, template_id=record.template_id, data={})
    session.add(row)
    session.flush()
    record.id, record.owner = row.id, owner_id
    row.data = record.model_dump(mode="json")
    job.record_id = row.id
    session.add(RecordVersion(record_id=row.id, version=1, source="ai", author="assistant", data=row.data))
    return row.id
