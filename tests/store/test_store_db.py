"""assistant.store.db on SQLite (WAL, busy timeout): concurrent writers in threads and in processes on the
same file all commit, each waiting its turn in SQLite's busy handler; readers never wait, and a failed
transaction never keeps the write lock."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from assistant.audit import append, verify
from assistant.config import Settings
from assistant.store.db import SQLITE_BUSY_TIMEOUT_MS, Database
from assistant.store.tables import AuditEntry, User


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(Settings(data_dir=tmp_path))
    yield database
    database.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(db: Database) -> None:
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS


def _in_threads(n: int, target: object) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            target(i)  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a writer is stuck"
    return errors


def test_concurrent_writers_all_commit(db: Database) -> None:
    def write(i: int) -> None:
        for j in range(5):
            with db.session() as s:
                s.add(User(name=f"user-{i}-{j}", token_hash=f"{i:032x}{j:032x}"))
                s.flush()  # an ORM flush first, then the audit entry's own UPDATE statement
                append(s, "tester", "config_change", objects={"user": f"{i}-{j}"})

    assert _in_threads(12, write) == []
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 60
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 60
        assert verify(s).ok  # every entry chained to the one before: no two writers read the same head


def test_a_failed_transaction_releases_the_lock(db: Database) -> None:
    with pytest.raises(RuntimeError):
        with db.session() as s:
            s.add(User(name="rolled-back", token_hash="a" * 64))
            s.flush()
            raise RuntimeError("the request failed after its first write")

    def write(_: int) -> None:
        with db.session() as s:
            s.add(User(name="next", token_hash="b" * 64))

    assert _in_threads(1, write) == []  # another thread can write (it would fail after the busy timeout otherwise)
    with db.session() as s:
        assert s.scalars(select(User.name)).all() == ["next"]


def test_readers_do_not_wait_for_a_writer(db: Database) -> None:
    with db.session() as s:
        s.add(User(name="existing", token_hash="c" * 64))
    written, release = threading.Event(), threading.Event()

    def slow_writer(_: int) -> None:
        with db.session() as s:
            s.add(User(name="pending", token_hash="d" * 64))
            s.flush()
            written.set()
            release.wait(timeout=30)

    writer = threading.Thread(target=slow_writer, args=(0,))
    writer.start()
    try:
        assert written.wait(timeout=30)
        with db.session() as s:  # in this thread, while the writer holds the lock
            assert s.scalars(select(User.name)).all() == ["existing"]
    finally:
        release.set()
        writer.join(timeout=30)
    with db.session() as s:
        assert sorted(s.scalars(select(User.name))) == ["existing", "pending"]


_WRITER_PROCESS = """
import sys, threading
from pathlib import Path
from assistant.audit import append
from assistant.config import Settings
from assistant.store.db import Database
from assistant.store.tables import User

db = Database(Settings(data_dir=Path(sys.argv[1])), migrate=False)

errors = []

def write(i):
    try:
        for j in range(5):
            with db.session() as s:
                s.add(User(name=f"{sys.argv[2]}-{i}-{j}", token_hash=f"{sys.argv[2]}-{i}-{j}"))
                s.flush()
                append(s, "tester", "config_change", objects={"user": f"{sys.argv[2]}-{i}-{j}"})
    except BaseException as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(errors)
sys.exit(1 if errors else 0)
"""


def test_writers_in_several_processes_all_commit(db: Database, tmp_path: Path) -> None:
    # uvicorn's worker processes (or a Celery worker on this machine) share one database file.
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER_PROCESS, str(tmp_path), f"p{n}"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for n in range(3)]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 60
        assert verify(s).ok
