"""Alembic migrations: an empty SQLite and an empty PostgreSQL reach the same schema, which is the schema of
tables.py; upgrades are idempotent, safe to run from several processes at once, adopt a pre-migration
database, and work from an installed (non-editable) package."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text, types
from support import REPO, require
from typer.testing import CliRunner

from assistant.config import Settings
from assistant.store.db import Database
from assistant.store.migrations import current_revision, head_revision, upgrade
from assistant.store.tables import Base

PG_BASE = os.environ.get("ASSISTANT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """A uniquely named, empty PostgreSQL database, dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3",
                                autocommit=True)
    except Exception as exc:
        require(False, f"PostgreSQL at 127.0.0.1:5432 is not reachable ({type(exc).__name__}); "
                       ".ci/run starts it")
        raise
    name = f"assistant_mig_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(f"{PG_BASE}/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _type(t: Any) -> str:
    """Reflected column types in dialect-neutral words (VARCHAR(32) on both; DATETIME vs TIMESTAMP)."""
    if isinstance(t, types.String) and not isinstance(t, types.Text):
        return f"string({t.length})"
    for generic, word in ((types.Text, "text"), (types.JSON, "json"), (types.DateTime, "datetime"),
                          (types.Integer, "integer"), (types.Float, "float"), (types.Numeric, "float")):
        if isinstance(t, generic):
            return word
    return type(t).__name__.lower()


def schema(engine: Engine) -> dict[str, Any]:
    insp = inspect(engine)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints(table)}
        indexes = set()
        for ix in insp.get_indexes(table):
            if ix.get("unique"):
                uniques.add(tuple(ix["column_names"]))  # SQLite vs PostgreSQL report these differently
            else:
                indexes.add((ix["name"], tuple(ix["column_names"])))
        out[table] = {
            "columns": [(c["name"], _type(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]),
                           (f.get("options") or {}).get("ondelete")) for f in insp.get_foreign_keys(table)),
            "uniques": sorted(uniques),
            "indexes": sorted(indexes),
        }
    return out


def _models_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


@pytest.mark.services
def test_empty_sqlite_and_postgres_upgrade_to_the_same_schema(tmp_path: Path, pg_engine: Engine) -> None:
    sqlite = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert upgrade(sqlite) == head_revision() == upgrade(pg_engine)
        lite, pg = schema(sqlite), schema(pg_engine)
        assert set(lite) == {"alembic_version", "users", "recordings", "jobs", "records", "record_versions",
                             "audit_log", "audit_head"}
        assert lite == pg
        assert lite["records"]["uniques"] == [("job_id",)]  # one record per job, on both
        # ...and that schema is tables.py's: nothing for autogenerate to add.
        assert _models_diff(sqlite) == [] and _models_diff(pg_engine) == []
    finally:
        sqlite.dispose()


@pytest.mark.services
def test_concurrent_upgrades_on_postgres_are_serialised(pg_engine: Engine) -> None:
    url = pg_engine.url.render_as_string(hide_password=False)
    engines = [create_engine(url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:  # the API and three workers starting at once
            revisions = list(pool.map(upgrade, engines))
        assert revisions == [head_revision()] * 4
    finally:
        for e in engines:
            e.dispose()


def test_concurrent_upgrades_on_one_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    code = ("import sys; from sqlalchemy import create_engine; "
            "from assistant.store.migrations import upgrade; print(upgrade(create_engine(sys.argv[1])))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", code, f"sqlite:///{db}"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-800:] for _, err in results]
    assert {out.strip() for out, _ in results} == {head_revision()}


def test_a_pre_migration_database_is_adopted_and_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    Base.metadata.create_all(old)  # how the store was made before migrations
    with old.begin() as conn:
        conn.execute(text("INSERT INTO users (id, name, token_hash, created_at) "
                          "VALUES ('u1', 'alice', 'h', '2026-01-01 00:00:00')"))
    old.dispose()
    db = Database(Settings(data_dir=tmp_path, database_url=url))
    try:
        assert current_revision(db.engine) == head_revision()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM users")).scalar() == "alice"
    finally:
        db.dispose()


def test_db_upgrade_command(tmp_path: Path) -> None:
    from assistant.cli import app

    result = CliRunner().invoke(app, ["db", "upgrade"], env={"ASSISTANT_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"is at revision {head_revision()}")
    again = CliRunner().invoke(app, ["db", "upgrade"], env={"ASSISTANT_DATA_DIR": str(tmp_path)})
    assert again.exit_code == 0 and (tmp_path / "assistant.db").is_file()


def test_migrations_ship_in_the_built_package(built_wheel: Path, tmp_path: Path) -> None:
    """Install the wheel (no editable path), and upgrade a database from the installed copy."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(built_wheel)], check=True, capture_output=True, timeout=300)
    assert (target / "assistant" / "store" / "migrations" / "versions" / "0001_baseline.py").is_file()
    code = ("import sys, assistant; from sqlalchemy import create_engine; "
            "from assistant.store.migrations import upgrade, MIGRATIONS_DIR; "
            "assert str(MIGRATIONS_DIR).startswith(sys.argv[2]), MIGRATIONS_DIR; "
            "print(upgrade(create_engine(sys.argv[1])))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", code, f"sqlite:///{tmp_path / 'x.db'}", str(target)],
                         env={**env, "PYTHONPATH": str(target)}, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-1500:]
    assert run.stdout.strip() == head_revision()


def test_a_pre_migration_baseline_database_gets_the_later_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'older.db'}"
    old = create_engine(url)
    baseline = ["users", "recordings", "jobs", "records", "record_versions"]
    Base.metadata.create_all(old, tables=[Base.metadata.tables[t] for t in baseline])
    old.dispose()
    db = Database(Settings(data_dir=tmp_path, database_url=url))
    try:
        assert current_revision(db.engine) == head_revision()
        assert _models_diff(db.engine) == []
    finally:
        db.dispose()


@pytest.mark.parametrize(("before", "added"), [
    pytest.param("0002", ("speakers", "present"), id="0003-who-was-there"),
    pytest.param("0003", ("holder", "heartbeat_at", "history"), id="0004-holder-heartbeat-history"),
])
def test_a_migration_adds_job_columns_to_existing_jobs_and_downgrades(
    tmp_path: Path, before: str, added: tuple[str, ...]
) -> None:
    """A job from before the migration keeps its row with the new columns empty (a job from before heartbeats:
    its updated_at stands in), and the downgrade takes the columns away again."""
    from alembic import command

    from assistant.store.migrations import alembic_config

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        assert upgrade(engine, before) == before
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, name, token_hash, created_at) "
                              "VALUES ('u1', 'alice', 'h', '2026-01-01 00:00:00')"))
            conn.execute(text("INSERT INTO jobs (id, owner_id, kind, state, stage, progress, attempts, template_id, "
                              "engine, created_at, updated_at) VALUES ('j1', 'u1', 'audio', 'running', 'drafting', "
                              "0.6, 1, 'sc_contact_note', 'llm', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        assert upgrade(engine) == head_revision()
        with engine.connect() as conn:
            row = conn.execute(text(f"SELECT id, {', '.join(added)} FROM jobs")).one()
        assert tuple(row) == ("j1", *(None for _ in added))
        assert _models_diff(engine) == []
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, before)
        assert {c["name"] for c in inspect(engine).get_columns("jobs")}.isdisjoint(added)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id FROM jobs")).scalar() == "j1"
    finally:
        engine.dispose()
