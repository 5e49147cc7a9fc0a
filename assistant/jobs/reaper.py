"""Jobs whose worker died are queued again within a minute, whatever the broker.

A stage records its holder (the worker running it) and a heartbeat on the job row while it runs. A job is
lost when it is `running`, its lock (`assistant.jobs.locks`, which dies with its holder) is free, and its
heartbeat is older than `job_lost_after_s`. Both are needed: the lock alone is also free for the instant
between a stage raising and its failure being written, and for a worker whose lock connection dropped while
it works on; the heartbeat alone cannot tell a dead worker from a database that was slow to answer.

The reaper runs on a timer in every Celery worker and in every API process that runs jobs, so several may
look at one job at once: each takes the job's lock before it touches the row, and re-queues it with a
conditional UPDATE (still running, same attempt, heartbeat still old), so exactly one of them wins. A job
that has already used `job_max_attempts` starts is failed instead: a recording that kills its worker must
not loop forever. The broker's own redelivery (Redis visibility timeout) stays as a last resort.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import func, select, update

from assistant.config import Settings
from assistant.jobs.locks import job_lock
from assistant.store.db import Database
from assistant.store.tables import Job, utcnow

log = logging.getLogger(__name__)


def worker_name(hostname: str | None = None) -> str:
    """Who holds a job: a Celery worker's name, or the API's host, and the process id."""
    return f"{hostname or 'serve@' + socket.gethostname()} pid {os.getpid()}"


def beat_interval(settings: Settings) -> float:
    """Several beats fit in the bound, so one slow database write does not make a live worker look lost."""
    return settings.jobs.lost_after_s / 6


# -- the job's history ----------------------------------------------------------------------------


def _stage_of(job: Any) -> str:
    return (job.stage or "").split(":")[0] or "queued"


def lost_event(stage: str, holder: str | None) -> dict[str, Any]:
    return {"at": utcnow().isoformat(timespec="seconds"), "event": "worker_lost", "stage": stage,
            "holder": holder, "resumed_by": None}


def resumed(history: list | None, worker: str) -> list | None:
    """The history with its open "worker lost" entry closed by `worker` (a new list: JSON columns are
    compared by value, not tracked in place)."""
    if not history or history[-1].get("event") != "worker_lost" or history[-1].get("resumed_by"):
        return history
    return [*history[:-1], {**history[-1], "resumed_by": worker}]


def describe(entry: dict[str, Any]) -> str:
    if entry.get("event") == "worker_lost":
        then = (f"resumed by {entry['resumed_by']}" if entry.get("resumed_by")
                else entry.get("outcome") or "waiting for another worker")
        return f"worker lost at {entry.get('stage')}, {then}"
    return str(entry.get("event"))


# -- the holder's side: a heartbeat while a stage runs -----------------------------------------------


class Heartbeat:
    """While a stage runs, a thread writes `heartbeat_at` every `beat_interval`; a failed write is logged and
    tried again at the next beat (the bound allows several misses)."""

    def __init__(self, db: Database, settings: Settings, job_id: str, holder: str) -> None:
        self._db, self._job_id, self._holder = db, job_id, holder
        self._interval = beat_interval(settings)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id[:8]}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._db.session() as s:
                    # updated_at kept as it is: a beat is not a change a client should be told about.
                    s.execute(update(Job).where(Job.id == self._job_id, Job.holder == self._holder,
                                                Job.state == "running")
                              .values(heartbeat_at=utcnow(), updated_at=Job.updated_at)
                              .execution_options(synchronize_session=False))
            except Exception as exc:
                log.warning("job %s: heartbeat not written (%s)", self._job_id, type(exc).__name__)


# -- the reaper ---------------------------------------------------------------------------------------


_LAST_SIGN_OF_LIFE = func.coalesce(Job.heartbeat_at, Job.updated_at)  # a row from before heartbeats: its last write


def reap(db: Database, settings: Settings, requeue: Callable[[str], None],
         lost_after_s: float | None = None) -> list[str]:
    """Queue again (through `requeue`) every running job whose worker is gone; fail those out of attempts.
    Returns the ids this call re-queued. `lost_after_s=0` at a start-up, when no live holder can be ours."""
    bound = settings.jobs.lost_after_s if lost_after_s is None else lost_after_s
    cutoff = utcnow() - timedelta(seconds=bound)
    with db.session() as s:
        candidates = s.scalars(select(Job.id).where(Job.state == "running", _LAST_SIGN_OF_LIFE <= cutoff)).all()
    requeued = []
    for job_id in candidates:
        with job_lock(db, settings, job_id) as free:
            if not free:
                continue  # its holder is alive (or another reaper is on it)
            outcome = _take_lost_job(db, settings, job_id, cutoff)
        # Published after the lock is released: a worker that got the message while we held it would be
        # told "busy" and look again only a minute later.
        if outcome == "queued":
            try:
                requeue(job_id)
            except Exception as exc:  # the row says queued: the broker's own redelivery is the last resort
                log.error("job %s: lost worker's job not re-queued (%s)", job_id, type(exc).__name__)
                continue
            requeued.append(job_id)
    return requeued


def _take_lost_job(db: Database, settings: Settings, job_id: str, cutoff: datetime) -> str | None:
    """The row claim: "queued" or "failed" when this reaper won it, None when the job moved on meanwhile."""
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None or job.state != "running":
            return None
        stage, holder, attempts, history = _stage_of(job), job.holder, job.attempts, list(job.history or [])
        event = lost_event(stage, holder)
        if attempts >= settings.jobs.max_attempts:
            event["outcome"] = "not resumed: out of attempts"
            values: dict[str, Any] = {
                "state": "failed",
                "error": f"worker lost {attempts} times during {stage}: the job may be what kills it",
            }
        else:
            values = {"state": "queued", "stage": f"worker lost at {stage}"[:40]}
        values["history"] = [*history, event]
        # Still running, still the same start, still silent: anything else means a worker or another reaper
        # got there first, and this reaper leaves the job alone.
        won = s.execute(update(Job).where(Job.id == job_id, Job.state == "running", Job.attempts == attempts,
                                          _LAST_SIGN_OF_LIFE <= cutoff).values(**values)
                        .execution_options(synchronize_session=False)).rowcount == 1
    if won:
        log.warning("job %s: worker %s lost at %s (attempt %d); %s", job_id, holder, stage, attempts,
                    "re-queued" if values["state"] == "queued" else "failed: out of attempts")
        return str(values["state"])
    return None


class ReaperTimer:
    """`reap` every `beat_interval` seconds on a daemon thread, until stopped."""

    def __init__(self, db: Database, settings: Settings, requeue: Callable[[str], None],
                 after_sweep: Callable[[], None] | None = None) -> None:
        self._db, self._settings, self._requeue, self._after = db, settings, requeue, after_sweep
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-reaper", daemon=True)

    def start(self) -> ReaperTimer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def __enter__(self) -> ReaperTimer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(beat_interval(self._settings)):
            try:
                reap(self._db, self._settings, self._requeue)
            except Exception as exc:  # the database is unreachable: the next sweep tries again
                log.warning("job reaper: sweep failed (%s)", type(exc).__name__)
            finally:
                if self._after is not None:
                    self._after()
