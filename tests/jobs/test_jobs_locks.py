"""The per-job lock on PostgreSQL: one holder at a time, and released when the holder's connection dies
(a worker killed with SIGKILL), so a redelivered job is never stuck behind a dead worker."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from assistant.config import Settings
from assistant.jobs.locks import advisory_key, job_lock
from assistant.store.db import Database

pytestmark = pytest.mark.services


@pytest.fixture
def pg_db(postgres_url: str, tmp_path: Path) -> Database:
    db = Database(Settings(data_dir=tmp_path, database_url=postgres_url))
    yield db
    db.dispose()


def test_one_holder_at_a_time(pg_db: Database, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    job = "0123456789abcdef0123456789abcdef"
    with job_lock(pg_db, settings, job) as first:
        assert first
        with job_lock(pg_db, settings, job) as second:
            assert not second
        with job_lock(pg_db, settings, "f" * 32) as other_job:
            assert other_job
    with job_lock(pg_db, settings, job) as again:
        assert again


def test_a_dead_holder_releases_the_lock(pg_db: Database, postgres_url: str, tmp_path: Path) -> None:
    job = "fedcba9876543210fedcba9876543210"
    url = make_url(postgres_url)
    holder = psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database,
                             autocommit=True)
    assert holder.execute("SELECT pg_try_advisory_lock(%s)", (advisory_key(job),)).fetchone()[0]
    settings = Settings(data_dir=tmp_path)
    with job_lock(pg_db, settings, job) as held:
        assert not held
    holder.close()  # what the kernel does to a SIGKILLed worker's socket
    # The server drops the lock when its backend sees the connection gone: soon, not at once (on a busy
    # machine a try made right after the close can still find it held; the crash benchmark saw the same).
    deadline = time.monotonic() + 5
    while True:
        with job_lock(pg_db, settings, job) as held:
            if held or time.monotonic() > deadline:
                break
        time.sleep(0.05)
    assert held
