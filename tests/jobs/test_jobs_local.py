"""The in-process queue: jobs run on worker threads that yield the CPU to the API."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from assistant.config import Settings
from assistant.jobs.local import BACKGROUND_NICE, LocalJobQueue
from assistant.store.db import Database


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux behaviour")
def test_job_threads_and_what_they_start_run_nicer_than_the_api_and_idle_priority(settings: Settings) -> None:
    db = Database(settings)
    seen: dict[str, tuple[int, int]] = {}
    done = threading.Event()

    def priority() -> tuple[int, int]:
        tid = threading.get_native_id()
        return os.getpriority(os.PRIO_PROCESS, tid), os.sched_getscheduler(tid)

    def run(job_id: str) -> None:
        seen["job"] = priority()
        child: dict[str, tuple[int, int]] = {}
        t = threading.Thread(target=lambda: child.update(n=priority()))
        t.start()
        t.join()
        seen["started_by_job"] = child["n"]
        done.set()

    api = priority()
    queue = LocalJobQueue(db, run)
    try:
        queue.start()
        queue.submit("j1")
        assert done.wait(10)
    finally:
        queue.stop()
        db.dispose()
    expected = (min(19, api[0] + BACKGROUND_NICE), os.SCHED_IDLE)
    assert seen == {"job": expected, "started_by_job": expected}
    assert priority() == api  # the caller is untouched
