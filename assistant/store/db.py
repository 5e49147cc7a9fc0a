"""Engine and session factory, built from settings (never at import time)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from assistant.config import Settings

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one API process, the thread lock alone
    fcntl = None  # type: ignore[assignment]


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{settings.data_dir / 'assistant.db'}"


def make_engine(settings: Settings) -> Engine:
    url = database_url(settings)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            # WAL lets the API read while a worker thread writes; foreign keys are off by default in SQLite.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    else:
        connect_args: dict[str, object] = {}
        if url.startswith("postgresql"):
            # TCP keepalives: a worker machine that vanishes without closing its socket releases its
            # job locks (session advisory locks) in about a minute instead of the kernel's two hours.
            connect_args = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                            "keepalives_count": 3}
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    return engine


class WriterBusy(Exception):
    """Another writer holds SQLite's write lock (raised only to a session that must not wait)."""


class Database:
    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.engine = make_engine(settings)
        if migrate:
            # Alembic, not create_all: the same schema on SQLite and PostgreSQL, upgraded in place.
            from assistant.store.migrations import upgrade

            upgrade(self.engine)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        self._writer_lock: _WriterLock | None = None
        if self.embedded:
            self._writer_lock = _WriterLock(self.engine.url.database)
            _one_writer_at_a_time(self._factory, self._writer_lock)

    @property
    def embedded(self) -> bool:
        """SQLite: a file in this process, whose short reads and writes cost less than a worker-thread trip."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, *, wait: bool = True) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error (no half-written rows).

        ``wait=False`` (SQLite): raise WriterBusy at the first write instead of waiting for another writer,
        for a caller on the event loop that then hands the work to a thread."""
        session = self._factory(info={_MAY_WAIT: wait})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writer_lock is not None:
            self._writer_lock.close()


_HOLDS_WRITE_LOCK = "holds_sqlite_write_lock"
_MAY_WAIT = "may_wait_for_sqlite_write_lock"


class _WriterLock:
    """SQLite's one writer, queued: a thread lock for this process's writers and, for a database file, an
    exclusive flock on ``<db>.writer`` beside it for the other processes on the same file (the API worker
    processes of `assistant serve`). Re-entrant in the holding thread; the file lock is taken by the first
    level only."""

    def __init__(self, database: str | None) -> None:
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        if fcntl is not None and database and database != ":memory:" and not database.startswith("file:"):
            self._fd = os.open(f"{database}.writer", os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self, wait: bool) -> bool:
        if not self._thread_lock.acquire(blocking=wait):
            return False
        if self._depth == 0 and self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._thread_lock.release()
                return False
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _one_writer_at_a_time(factory: sessionmaker[Session], lock: _WriterLock) -> None:
    """Queue SQLite writers on a lock instead of SQLite's busy handler.

    SQLite has one writer at a time. A writer that finds the database locked sleeps in steps of 1, 2, 5, 10 ...
    up to 100 ms and tries again, so 50 simultaneous uploads each committing a few rows formed a convoy:
    the last waited 400 ms for work measured in milliseconds. A session takes the lock before its first write
    (flush or DML statement) and releases it when its transaction ends, so waiting writers start the moment
    the previous one commits, in this process or another. Readers never take it (WAL lets them read during a
    write). A process that does not use this class on the same file (the sqlite3 shell, say) still meets
    SQLite's own busy timeout."""

    def take(session: Session) -> None:
        if not session.info.get(_HOLDS_WRITE_LOCK):
            if not lock.acquire(wait=session.info.get(_MAY_WAIT, True)):
                raise WriterBusy("another writer holds the database")
            session.info[_HOLDS_WRITE_LOCK] = True

    @event.listens_for(factory, "before_flush")
    def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
        take(session)

    @event.listens_for(factory, "do_orm_execute")
    def _before_statement(state: ORMExecuteState) -> None:
        if not state.is_select:
            take(state.session)

    @event.listens_for(factory, "after_transaction_end")
    def _after_transaction(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None and session.info.pop(_HOLDS_WRITE_LOCK, False):
            lock.release()
