"""Jobs: rows first, then run by a `JobQueue` (`base.py`; in-process threads by default, or Celery)."""

from assistant.jobs.base import JobQueue

__all__ = ["JobQueue"]
