"""Baseline: users, recordings, jobs, records, record_versions (the schema of tables.py at issue 7).

Constraint names are explicit (pk_/uq_/fk_/ix_) so SQLite and PostgreSQL carry the same names and later
revisions can drop or alter them by name on both (SQLite through batch mode).

Created 2026-11-26.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_index("ix_users_token_hash", "users", ["token_hash"], unique=True)

    op.create_table(
        "recordings",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("consent", sa.String(200), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recordings"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_recordings_owner_id_users"),
    )
    op.create_index("ix_recordings_owner_id", "recordings", ["owner_id"])

    op.create_table(
        "records",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("recording_id", sa.String(32), nullable=True),
        sa.Column("template_id", sa.String(60), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_records_owner_id_users"),
        # One record per job: the last line of defence against a job drafted twice by two workers.
        sa.UniqueConstraint("job_id", name="uq_records_job_id"),
    )
    op.create_index("ix_records_owner_id", "records", ["owner_id"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.String(60), nullable=False),
        sa.Column("engine", sa.String(20), nullable=False),
        sa.Column("recording_id", sa.String(32), nullable=True),
        sa.Column("input_text", sa.Text(), nullable=True),
        sa.Column("transcript", sa.JSON(), nullable=True),
        sa.Column("record_id", sa.String(32), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_jobs_owner_id_users"),
        sa.ForeignKeyConstraint(["recording_id"], ["recordings.id"], name="fk_jobs_recording_id_recordings",
                                ondelete="SET NULL"),
    )
    op.create_index("ix_jobs_owner_id", "jobs", ["owner_id"])
    op.create_index("ix_jobs_state", "jobs", ["state"])

    op.create_table(
        "record_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_record_versions"),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_record_versions_record_id_records",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_record_versions_record_id", "record_versions", ["record_id"])


def downgrade() -> None:
    for table in ("record_versions", "jobs", "records", "recordings", "users"):
        op.drop_table(table)  # drops its indexes too
