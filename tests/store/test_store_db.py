"""assistant.store.db on SQLite: this process's writers queue on a lock, readers never do, and a failed
transaction never keeps the lock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from assistant.audit import append, verify
from assistant.config import Settings
from assistant.store.db import Database
from assistant.store.tables import AuditEntry, User


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(Settings(data_dir=tmp_path))

    @event.listens_for(database.engine, "connect")
    def _no_busy_wait(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # SQLite's busy handler off: a writer that met another's lock would fail at once ("database is
        # locked") instead of sleeping, so only the in-process lock can make concurrent writers succeed.
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    database.engine.dispose()  # connections made by the migrations had the 30 s timeout
    yield database
    database.dispose()


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


def test_concurrent_writers_all_commit_without_sqlite_busy_waits(db: Database) -> None:
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

    assert _in_threads(1, write) == []  # another thread gets the lock; joining would time out otherwise
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
