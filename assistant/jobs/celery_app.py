"""Celery: the scale-out `JobQueue`. Two tasks on two queues, `transcribe` and `draft`, so each can be scaled
and pinned (GPU machines take `transcribe`, CPU machines `draft`). The task bodies are the embedded path's
stage functions (`JobRunner.transcribe_stage` / `draft_stage`); job state lives in the database, the broker
only carries job ids.

Delivery: `acks_late` + `task_reject_on_worker_lost` + prefetch 1, so a message is acknowledged only after
its stage committed. A worker that dies mid-job is noticed by the reaper that every worker runs on a timer
(`assistant.jobs.reaper`: lock free, heartbeat old), which publishes the job's stage again within
`job_lost_after_s` plus a beat, on any broker. The broker's own redelivery stays as the last resort
(RabbitMQ: at once; Redis: after the visibility timeout, which must exceed the longest job). A duplicate
delivery finds the stage done (no-op) or the job locked by a live worker ("busy": checked again later). Transient errors
are retried with exponential backoff; after `job_max_attempts` the job is `failed` with its reason.

Nothing connects at import time: `make_celery(settings)` builds the app, `run_worker` starts a worker.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task, signals

from assistant.config import Settings
from assistant.jobs.retry import backoff, is_transient

log = logging.getLogger(__name__)

TRANSCRIBE = "transcribe"
DRAFT = "draft"
QUEUES = (TRANSCRIBE, DRAFT)
TASK_NAMES = {TRANSCRIBE: "assistant.jobs.transcribe", DRAFT: "assistant.jobs.draft"}
# A publish is retried briefly, then fails: the API must not hang on a dead broker.
PUBLISH_RETRY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.5, "interval_max": 1.0}


def redacted(url: str) -> str:
    """The broker URL without its password, for logs."""
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))


def transport_options(settings: Settings) -> dict[str, Any]:
    if not settings.jobs.broker_url.startswith(("redis://", "rediss://", "redis+socket://", "sentinel://")):
        return {}  # RabbitMQ redelivers on connection loss itself; see README "Scaling out"
    vt = settings.jobs.broker_visibility_timeout_s
    return {
        "visibility_timeout": vt,
        # How often a worker looks for messages whose worker vanished: often enough for the timeout.
        "unacked_restore_interval": max(1, min(10, vt // 10)),
        "unacked_restore_throttle": 1 if vt < 600 else 10,
        # A worker killed while it held the restore mutex blocks every sweep until the mutex expires.
        "unacked_mutex_expire": max(5, min(300, vt // 2)),
        "socket_timeout": 30,
        "socket_connect_timeout": 10,
        "health_check_interval": 25,
    }


def make_celery(settings: Settings) -> Celery:
    app = Celery("assistant", broker=settings.jobs.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_routes={name: {"queue": queue} for queue, name in TASK_NAMES.items()},
        task_default_queue=DRAFT,
        broker_transport_options=transport_options(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=10,
        worker_send_task_events=False,
        worker_hijack_root_logger=True,
        enable_utc=True,
    )
    for queue, name in TASK_NAMES.items():
        _register(app, settings, queue, name)
    return app


def send(app: Celery, queue: str, job_id: str) -> None:
    app.send_task(TASK_NAMES[queue], args=[job_id], queue=queue, retry=True, retry_policy=PUBLISH_RETRY)


def stage_queue(db: Any, job_id: str) -> str:
    """The queue of the job's next stage: transcription until a transcript is saved, then drafting."""
    from assistant.store.tables import Job

    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise KeyError(job_id)
        return TRANSCRIBE if job.kind != "notes" and job.transcript is None else DRAFT


# -- worker side -----------------------------------------------------------------------------------


@dataclass
class _Runtime:
    """What one worker process keeps between tasks: a DB pool, the models (loaded on first use), a runner."""

    pid: int
    db: Any
    engines: Any
    runner: Any

    def close(self) -> None:
        self.engines.close()
        self.db.dispose()


_runtime: _Runtime | None = None
_runtime_lock = threading.Lock()


def worker_runtime(settings: Settings, hostname: str | None = None) -> _Runtime:
    """Per process, built on the first task (after the prefork fork, so no connection or model is shared).
    `hostname` (the Celery worker's name) says who holds the jobs this process runs."""
    global _runtime
    with _runtime_lock:
        if _runtime is None or _runtime.pid != os.getpid():
            from assistant.jobs.reaper import worker_name
            from assistant.jobs.stages import Engines, JobRunner
            from assistant.store.db import Database

            db = Database(settings)
            engines = Engines(settings)
            runner = JobRunner(settings, db, engines, worker=worker_name(hostname))
            _runtime = _Runtime(os.getpid(), db, engines, runner)
        return _runtime


def close_runtime(**_: Any) -> None:
    global _runtime
    with _runtime_lock:
        if _runtime is not None and _runtime.pid == os.getpid():
            _runtime.close()
        _runtime = None


signals.worker_process_shutdown.connect(close_runtime, weak=False)
signals.worker_shutdown.connect(close_runtime, weak=False)


def busy_delay(settings: Settings, retries: int = 0) -> float:
    """When another worker holds the job: look again later (it may die; its message may be gone). Soon at
    first: RabbitMQ redelivers a SIGKILLed worker's message within milliseconds, before PostgreSQL has noticed
    the dead connection and dropped its lock (measured: every such redelivery was "busy", and then waited a
    full minute); then backing off to a minute, for a holder that is alive and busy."""
    return float(min(60, max(1, settings.jobs.broker_visibility_timeout_s // 4), 2 ** retries))


def run_stage(task: Task, settings: Settings, queue: str, job_id: str) -> str:
    """The body of both tasks. Returns what happened (for logs and tests)."""
    runner = worker_runtime(settings, task.request.hostname).runner
    stage = runner.transcribe_stage if queue == TRANSCRIBE else runner.draft_stage
    log.info("job %s: %s stage starting (delivery %d)", job_id, queue, task.request.retries + 1)
    try:
        outcome = stage(job_id)
    except Exception as exc:
        delay = _after_failure(task, runner, settings, job_id, exc)
        if delay is None:
            return "failed"
        raise task.retry(countdown=delay) from None
    log.info("job %s: %s stage -> %s", job_id, queue, outcome)
    if outcome in (DRAFT, TRANSCRIBE):
        send(task.app, outcome, job_id)
    elif outcome == "busy":
        raise task.retry(countdown=busy_delay(settings, task.request.retries))
    return outcome


def _after_failure(task: Task, runner: Any, settings: Settings, job_id: str, exc: Exception) -> float | None:
    """Record the failure; return a retry delay, or None when the job is now `failed`."""
    transient = is_transient(exc)
    try:
        attempts = runner.attempts(job_id)
        if transient and attempts < settings.jobs.max_attempts:
            delay = backoff(attempts, settings.jobs.retry_backoff_s)
            runner.retry_later(job_id, exc, delay)
            log.warning("job %s: attempt %d failed (%s); retrying in %.0f s", job_id, attempts,
                        type(exc).__name__, delay)
            return delay
        runner.fail(job_id, exc)
        log.warning("job %s failed after %d attempt(s): %s", job_id, attempts, type(exc).__name__)
        return None
    except Exception as db_exc:  # the database itself is out of reach: keep the message, try later
        delay = backoff(task.request.retries + 1, max(settings.jobs.retry_backoff_s, 1.0))
        log.warning("job %s: could not record a failure (%s); retrying in %.0f s", job_id,
                    type(db_exc).__name__, delay)
        return delay


def _register(app: Celery, settings: Settings, queue: str, name: str) -> None:
    # shared=False: a shared task would be attached to every Celery app made later in this process, and
    # its closure would carry this app's settings into theirs.
    @app.task(name=name, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None,
              ignore_result=True, shared=False)
    def stage_task(self: Task, job_id: str) -> str:
        return run_stage(self, settings, queue, job_id)


def worker_settings(settings: Settings, concurrency: int) -> Settings:
    """Split the cores between the pool's processes unless thread counts were set explicitly."""
    if concurrency <= 1:
        return settings
    share = max(1, (os.cpu_count() or 1) // concurrency)
    update: dict[str, int] = {}
    if settings.whisper.threads == 0:
        update["whisper_threads"] = share
    if settings.llm.threads == 0:
        update["llm_threads"] = share
    return settings.updated(**update)


def run_worker(settings: Settings, queues: list[str], concurrency: int = 1, pool: str = "prefork",
               hostname: str | None = None, loglevel: str = "INFO") -> None:
    """Start a worker in this process (blocks until it is stopped)."""
    bad = [q for q in queues if q not in QUEUES]
    if bad or not queues:
        raise ValueError(f"queues must be among {', '.join(QUEUES)}, not {', '.join(bad) or 'none'}")
    from assistant.store.db import Database

    try:
        Database(settings).dispose()  # fail fast on an unreachable database, and upgrade its schema
    except Exception as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise RuntimeError(f"database not usable: {type(exc).__name__}: {first}") from exc
    settings = worker_settings(settings, concurrency)
    app = make_celery(settings)
    argv = ["worker", f"--queues={','.join(queues)}", f"--concurrency={concurrency}", f"--pool={pool}",
            f"--loglevel={loglevel}", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    _reap_while_running(settings, app)
    log.info("worker on %s, queues %s, %d process(es)", redacted(settings.jobs.broker_url), queues, concurrency)
    app.worker_main(argv)


def _reap_while_running(settings: Settings, app: Celery) -> None:
    """The reaper on a timer in the worker's main process, from `worker_ready` (once the pool has forked)
    to shutdown. Its connections are closed after each sweep, so a pool process forked later (to replace
    one that died) inherits none of them."""
    from assistant.jobs.reaper import ReaperTimer
    from assistant.store.db import Database

    timer: list[ReaperTimer] = []

    def start(**_: Any) -> None:
        db = Database(settings, migrate=False)
        timer.append(ReaperTimer(db, settings, lambda job_id: send(app, stage_queue(db, job_id), job_id),
                                 after_sweep=db.engine.dispose).start())

    def stop(**_: Any) -> None:
        while timer:
            timer.pop().stop()

    signals.worker_ready.connect(start, weak=False)
    signals.worker_shutdown.connect(stop, weak=False)
