"""Who runs a job: `jobs.holder` (the worker that claimed it), `jobs.heartbeat_at` (when that worker last said
it was alive) and `jobs.history` (what happened to the job: a JSON list of events such as a lost worker),
so a reaper can re-queue a job whose worker died without waiting for the broker (issue 21).

Created 2026-12-10.
"""

from __future__ import annotations

import sqlalchemy as sa

from assistant.store.migrations.columns import add_missing, drop

revision: str = "0004"
down_revision: str | None = "0003"

COLUMNS = (("holder", sa.String(200)), ("heartbeat_at", sa.DateTime(timezone=True)), ("history", sa.JSON()))


def upgrade() -> None:
    add_missing("jobs", COLUMNS)


def downgrade() -> None:
    drop("jobs", COLUMNS)
