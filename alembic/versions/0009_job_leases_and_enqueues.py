"""job lease tokens and enqueue times (parked jobs, one message per job)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from memvault.adapters.sqlalchemy.types import ExactString, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memory_jobs") as batch:
        batch.add_column(sa.Column("lease_token", ExactString(32)))
        batch.add_column(sa.Column("enqueued_at", UTCDateTime))
    op.create_index("ix_memory_jobs_user_status", "memory_jobs", ["user_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_memory_jobs_user_status", table_name="memory_jobs")
    with op.batch_alter_table("memory_jobs") as batch:
        batch.drop_column("enqueued_at")
        batch.drop_column("lease_token")
