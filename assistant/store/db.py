"""Engine and session factory, built from settings (never at import time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from assistant.config import Settings

# SQLite has one writer at a time: another writer (a thread or process on the same file) waits up to this
# long for its turn instead of failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{settings.data_dir / 'assistant.db'}"


def make_engine(settings: Settings) -> Engine:
    url = database_url(settings)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            # WAL lets the API read while a worker thread writes; foreign keys are off by default in SQLite.
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
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


class Database:
    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.engine = make_engine(settings)
        if migrate:
            # Alembic, not create_all: the same schema on SQLite and PostgreSQL, upgraded in place.
            from assistant.store.migrations import upgrade

            upgrade(self.engine)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def embedded(self) -> bool:
        """SQLite: a file in this process, whose short reads and writes cost less than a worker-thread trip."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error (no half-written rows)."""
        session = self._factory()
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
