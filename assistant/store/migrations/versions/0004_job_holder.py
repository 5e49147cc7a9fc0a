"""Who runs a job: `jobs.holder` (the worker that claimed it), `jobs.heartbeat_at` (when that worker last said
it was alive) and `jobs.history` (what happened to the job: a JSON list of events such as a lost worker),
so a reaper can re-queue a job whose worker died without waiting for the broker (issue 21).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = (("holder", sa.String(200)), ("heartbeat_at", sa.DateTime(timezone=True)), ("history", sa.JSON()))


def upgrade() -> None:
    # As in 0003: a database adopted from `create_all` may already have the columns.
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("jobs")}
    for name, kind in COLUMNS:
        if name not in have:
            op.add_column("jobs", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
