"""Jobs accepted by the other API processes of `assistant serve`, relayed to the one process that runs them.

The in-process queue runs jobs in the first process only: one Whisper and one LLM in memory, one job at a time
per worker thread. The other API processes commit the job's rows as usual and write its id to a pipe that the
first process reads. The database stays the record: an id lost with a process that died is still `queued`
there and is queued again at the next start (`LocalJobQueue.start`), and a job delivered twice runs once
(each stage claims its job under a lock)."""

from __future__ import annotations

import logging
import os
import re
import threading

from assistant.jobs import JobQueue

log = logging.getLogger(__name__)

_JOB_ID = re.compile(rb"[0-9a-f]{32}")


class RelayJobQueue:
    """The job queue of an API process that runs no jobs: each id goes down the pipe. One id per write, well
    under PIPE_BUF, so the lines of several processes never interleave."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def start(self) -> None:
        """Nothing to run here: the first process re-queues unfinished jobs at its own start."""

    def submit(self, job_id: str) -> None:
        os.write(self._fd, job_id.encode("ascii") + b"\n")

    def stop(self) -> None:
        """Nothing to stop: ids already written are in the pipe, and their rows are committed."""


def relay_into(queue: JobQueue, fd: int) -> threading.Thread:
    """Read job ids from the pipe and submit them to `queue`, until every write end is closed."""

    def run() -> None:
        with os.fdopen(fd, "rb") as pipe:
            for line in pipe:
                job_id = line.strip()
                if _JOB_ID.fullmatch(job_id):
                    queue.submit(job_id.decode("ascii"))
                else:  # only our own processes hold the write end; never act on a malformed line
                    log.warning("ignored a malformed job id from an API process")

    thread = threading.Thread(target=run, name="job-relay", daemon=True)
    thread.start()
    return thread
