"""The jobs boundary: a `JobQueue` runs jobs whose rows are already committed."""

from __future__ import annotations

from typing import Protocol


class JobQueue(Protocol):
    def start(self) -> None:
        """Begin running; re-queue jobs a crash left queued or running."""

    def submit(self, job_id: str) -> None:
        """Run a job whose row is already committed."""

    def stop(self) -> None: ...
