"""One runner per job at a time, across processes and machines, released when the holder dies.

A broker can deliver a job twice (a resend after an API restart, or a Redis visibility timeout that
expired while the first worker was still busy). Each stage runs under this lock, so a duplicate delivery
sees "busy" instead of starting a second run. The lock must vanish with its holder, so a worker killed
with SIGKILL never leaves a job locked:
- PostgreSQL: a session-level advisory lock on a dedicated connection (the server drops it when the
  connection dies).
- SQLite (one machine): `flock` on a file in the data dir (the kernel drops it when the process dies).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from assistant.config import Settings
from assistant.store.db import Database

log = logging.getLogger(__name__)


def advisory_key(job_id: str) -> int:
    """A stable signed 64-bit key for a job id (uuid hex): its first 15 hex digits."""
    try:
        return int(job_id[:15], 16)
    except ValueError:
        import hashlib

        return int(hashlib.sha256(job_id.encode()).hexdigest()[:15], 16)


@contextmanager
def _pg_lock(db: Database, job_id: str) -> Iterator[bool]:
    key = advisory_key(job_id)
    conn = db.engine.connect()
    try:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()  # a session lock outlives the transaction: don't sit idle in one
        try:
            yield held
        finally:
            if held:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
                except Exception:  # never hand a connection that may still hold the lock back to the pool
                    log.warning("could not release the lock of job %s; dropping the connection", job_id)
                    conn.invalidate()
    finally:
        conn.close()


@contextmanager
def _file_lock(settings: Settings, job_id: str) -> Iterator[bool]:
    try:
        import fcntl
    except ImportError:  # not POSIX: only the in-process queue is supported there
        yield True
        return
    folder = settings.data_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job_id}.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    # The file itself stays: unlinking it while another process waits to open it would split the lock.


@contextmanager
def job_lock(db: Database, settings: Settings, job_id: str) -> Iterator[bool]:
    """Yields True when this process now runs the job, False when another live process does."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        with _pg_lock(db, job_id) as held:
            yield held
    elif dialect == "sqlite":
        with _file_lock(settings, job_id) as held:
            yield held
    else:
        yield True
