"""In-process job runner: worker threads fed from a queue, jobs persisted in the DB first. Jobs a crash left
running are taken back by the reaper (assistant.jobs.reaper): at start-up at once, and on a timer after that
(for a job whose holder was another process on the same database)."""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable

from sqlalchemy import select

from assistant.config import Settings
from assistant.jobs.reaper import ReaperTimer, reap
from assistant.store.db import Database
from assistant.store.tables import Job

log = logging.getLogger(__name__)

# Model work yields the CPU to the API (README, "Speed"), by weight only (plain nice): beside any other busy
# process on the host it still gets its share, so a job always progresses. On an idle machine it gets every
# core it asks for.
BACKGROUND_NICE = 10


def lower_thread_priority(increment: int = BACKGROUND_NICE) -> None:
    """Make the calling thread nicer. Nice is per thread on Linux and inherited, so the threads and processes
    this thread starts later (CTranslate2's pool, the embedded LLM server) run the same way."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))
    except (AttributeError, OSError):  # not Linux, or not permitted: keep the default priority
        log.debug("could not lower the job worker's priority")


class LocalJobQueue:
    def __init__(self, db: Database, run: Callable[[str], None], settings: Settings, workers: int = 1) -> None:
        self._db = db
        self._settings = settings
        self._reaper: ReaperTimer | None = None
        self._run = run
        self._workers = workers
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        with self._db.session() as s:
            ids = list(s.scalars(select(Job.id).where(Job.state == "queued").order_by(Job.created_at)))
        for job_id in ids:
            self._queue.put(job_id)
        # A job left running lost its worker with the process before this one, unless its lock says another
        # live process (a second server on the same database) holds it: no need to wait for the heartbeat.
        ids += reap(self._db, self._settings, self._queue.put, lost_after_s=0)
        self._reaper = ReaperTimer(self._db, self._settings, self.submit).start()
        for i in range(self._workers):
            t = threading.Thread(target=self._loop, name=f"job-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        if ids:
            log.info("re-queued %d unfinished job(s) at start-up", len(ids))

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.stop()
            self._reaper = None
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()

    def _loop(self) -> None:
        lower_thread_priority()
        while (job_id := self._queue.get()) is not None:
            try:
                self._run(job_id)
            except Exception:  # the runner records failures itself; never let one job kill the worker
                log.exception("job %s crashed the runner", job_id)
