"""Who was there: `jobs.speakers` (the number of voices to diarise) and `jobs.present` (the people present,
a JSON list of {name, role}), both optional fields of an upload (issue 10).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = (("speakers", sa.Integer()), ("present", sa.JSON()))


def upgrade() -> None:
    # A database made by the pre-migration `create_all` from today's tables.py is stamped at the baseline and
    # already has these columns: add only what is missing, so that adoption does not fail on a duplicate.
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("jobs")}
    for name, kind in COLUMNS:
        if name not in have:
            op.add_column("jobs", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    # Batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("jobs") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
