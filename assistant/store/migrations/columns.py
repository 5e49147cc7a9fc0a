"""Column additions shared by revisions that only add optional columns. Revisions call these, so their
behaviour is frozen: change a revision's behaviour with a new revision, never by editing this file."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine


def add_missing(table: str, columns: tuple[tuple[str, TypeEngine], ...]) -> None:
    """Add each column as nullable, unless it is there already: a database made by the pre-migration
    `create_all` from today's tables.py is stamped at the baseline and already has them, and adoption must not
    fail on a duplicate."""
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
    for name, kind in columns:
        if name not in have:
            op.add_column(table, sa.Column(name, kind, nullable=True))


def drop(table: str, columns: tuple[tuple[str, TypeEngine], ...]) -> None:
    # Batch mode: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table(table) as batch:
        for name, _ in reversed(columns):
            batch.drop_column(name)
