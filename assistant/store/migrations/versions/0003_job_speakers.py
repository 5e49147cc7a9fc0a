"""Who was there: `jobs.speakers` (the number of voices to diarise) and `jobs.present` (the people present,
a JSON list of {name, role}), both optional fields of an upload (issue 10).

Created 2026-12-03.
"""

from __future__ import annotations

import sqlalchemy as sa

from assistant.store.migrations.columns import add_missing, drop

revision: str = "0003"
down_revision: str | None = "0002"

COLUMNS = (("speakers", sa.Integer()), ("present", sa.JSON()))


def upgrade() -> None:
    add_missing("jobs", COLUMNS)


def downgrade() -> None:
    drop("jobs", COLUMNS)
