"""The reaper: a running job whose worker died (lock free, heartbeat old) is queued again once, however many
reapers look at it; a job that keeps killing its worker ends `failed`. On SQLite (flock) and on a real
PostgreSQL (advisory locks), with real SIGKILLed processes where a death is the point."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jobs_services import postgres_problem, temp_postgres_database
from sqlalchemy import func, select
from support import REPO, require

from assistant.blobs import blob_store
from assistant.config import Settings
from assistant.jobs.locks import job_lock
from assistant.jobs.reaper import Heartbeat, _take_lost_job, reap
from assistant.store.db import Database
from assistant.store.tables import Job, Record, Recording, User, utcnow

NOTES = "Present: Jo Smith (social worker), Sam Lee (resident)\nJo: How have you been?\nSam: Better, thanks."


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    """Settings and a database: SQLite in the data dir, or a fresh PostgreSQL database."""
    settings = Settings(data_dir=tmp_path / "data", job_lost_after_s=1.0, job_max_attempts=3)
    if request.param == "sqlite":
        db = Database(settings)
        yield settings, db
        db.dispose()
        return
    problem = postgres_problem()
    require(problem is None, problem or "")
    with temp_postgres_database() as url:
        settings = settings.model_copy(update={"database_url": url})
        db = Database(settings)
        yield settings, db
        db.dispose()


def _job(db: Database, settings: Settings, tmp_path: Path, **fields: Any) -> str:
    """An audio job (its recording a placeholder: nothing here decodes it)."""
    src = tmp_path / "a.wav"
    src.write_bytes(b"RIFF....WAVE")
    ref = blob_store(settings).put_file(src, f"uploads/{time.monotonic_ns()}.wav")
    with db.session() as s:
        n = s.scalar(select(func.count()).select_from(User))
        user = User(name=f"u{n}", token_hash=f"{n:064d}")
        s.add(user)
        s.flush()
        rec = Recording(owner_id=user.id, filename="a.wav", path=ref, format="wav", size=12, sha256="0" * 64)
        s.add(rec)
        s.flush()
        job = Job(owner_id=user.id, kind="audio", template_id="sc_contact_note", engine="extractive",
                  recording_id=rec.id, **fields)
        s.add(job)
        s.flush()
        return job.id


def _lost(db: Database, settings: Settings, tmp_path: Path, age_s: float = 3600, **fields: Any) -> str:
    """A job as a dead worker leaves it: running, its heartbeat `age_s` old, nobody holding its lock."""
    return _job(db, settings, tmp_path, state="running", stage="transcribing", attempts=1, holder="w1 pid 1",
                heartbeat_at=utcnow() - timedelta(seconds=age_s), **fields)


def _row(db: Database, job_id: str) -> Job:
    with db.session() as s:
        return s.get(Job, job_id)


def test_a_lost_job_is_queued_again_with_what_happened(store: tuple[Settings, Database], tmp_path: Path) -> None:
    settings, db = store
    lost = _lost(db, settings, tmp_path)
    fresh = _lost(db, settings, tmp_path, age_s=0)  # a worker that beat just now: alive, whatever the lock says
    held = _lost(db, settings, tmp_path)  # silent, but its holder still has the lock (a slow database, say)
    queued: list[str] = []
    with job_lock(db, settings, held) as got:
        assert got
        assert reap(db, settings, queued.append) == [lost] == queued
    job = _row(db, lost)
    assert (job.state, job.stage, job.attempts) == ("queued", "worker lost at transcribing", 1)
    assert [(e["event"], e["stage"], e["holder"], e["resumed_by"]) for e in job.history] == [
        ("worker_lost", "transcribing", "w1 pid 1", None)]
    assert _row(db, fresh).state == _row(db, held).state == "running"
    assert reap(db, settings, queued.append) == [held]  # the lock is free now: its holder is gone
    assert reap(db, settings, queued.append) == []  # nothing is queued twice


def test_two_reapers_at_once_queue_each_lost_job_once(store: tuple[Settings, Database], tmp_path: Path) -> None:
    settings, db = store
    lost = {_lost(db, settings, tmp_path) for _ in range(8)}
    other = Database(settings)  # a second process's pool: its own connections, locks and sessions
    published: list[str] = []
    start = threading.Barrier(2)

    def sweep(database: Database) -> None:
        start.wait()
        reap(database, settings, published.append)

    try:
        threads = [threading.Thread(target=sweep, args=(d,)) for d in (db, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        other.dispose()
    assert sorted(published) == sorted(lost)
    for job_id in lost:
        assert len(_row(db, job_id).history) == 1
    # The row claim on its own, without the lock: the second of two reapers that read the same row loses.
    job_id = _lost(db, settings, tmp_path)
    cutoff = utcnow()
    assert [_take_lost_job(db, settings, job_id, cutoff) for _ in range(2)] == ["queued", None]


def test_a_resumed_job_names_who_took_it_over_and_a_live_stage_beats(
    store: tuple[Settings, Database], tmp_path: Path
) -> None:
    from assistant.jobs.stages import JobRunner

    settings, db = store
    job_id = _lost(db, settings, tmp_path)
    reap(db, settings, lambda _: None)
    runner = JobRunner(settings, db, engines=None, worker="w2 pid 2")  # type: ignore[arg-type]
    with db.session() as s:
        runner._claim(job_id, "transcribing", s)
    job = _row(db, job_id)
    assert (job.state, job.holder, job.attempts) == ("running", "w2 pid 2", 2)
    assert job.history[-1]["resumed_by"] == "w2 pid 2"
    from assistant.api.routes.jobs import job_out

    assert job_out(job).history[-1].text == "worker lost at transcribing, resumed by w2 pid 2"
    before = job.heartbeat_at
    with Heartbeat(db, settings, job_id, "w2 pid 2"):
        time.sleep(settings.job_lost_after_s * 0.5)  # three beats
    after = _row(db, job_id)
    assert after.heartbeat_at > before and after.updated_at == job.updated_at  # a beat is not news


# A stage whose work kills its own process, as a recording that crashes the decoder (or an OOM kill) would.
_KILLS_ITS_WORKER = """
import os, signal, sys
from assistant.config import Settings
from assistant.jobs.stages import JobRunner
from assistant.store.db import Database


class Crash:
    def transcriber(self):
        return self

    def transcribe(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)


settings = Settings(data_dir=sys.argv[1], database_url=sys.argv[2] or None)
JobRunner(settings, Database(settings), Crash()).transcribe_stage(sys.argv[3])
"""


def test_a_job_that_keeps_killing_its_worker_ends_failed_with_its_reason(
    store: tuple[Settings, Database], tmp_path: Path
) -> None:
    settings, db = store
    job_id = _job(db, settings, tmp_path)
    starts = 0
    for _ in range(settings.job_max_attempts + 2):  # more chances than it may take: it must stop by itself
        if _row(db, job_id).state != "queued":
            break
        run = subprocess.run([sys.executable, "-c", _KILLS_ITS_WORKER, str(settings.data_dir),
                              settings.database_url or "", job_id], cwd=REPO, capture_output=True, timeout=60)
        assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
        starts += 1
        time.sleep(settings.job_lost_after_s + 0.2)
        reap(db, settings, lambda _: None)
    job = _row(db, job_id)
    assert starts == settings.job_max_attempts
    assert job.state == "failed"
    assert job.error == "worker lost 3 times during transcribing: the job may be what kills it"
    events = [e for e in job.history if e["event"] == "worker_lost"]
    assert len(events) == 3 and events[-1]["outcome"] == "not resumed: out of attempts"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Record).where(Record.job_id == job_id)) == 0
