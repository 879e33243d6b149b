"""item metadata (column and filter index) and occurred_at

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from memvault.adapters.sqlalchemy.types import ExactString, Id, UTCDateTime

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memory_items") as batch:
        batch.add_column(sa.Column("metadata_json", sa.Text()))
        batch.add_column(sa.Column("occurred_at", UTCDateTime))
    op.create_table(
        "memory_item_metadata",
        sa.Column("item_id", Id, nullable=False),
        sa.Column("key", ExactString(64), nullable=False),
        sa.Column("user_id", ExactString(128), nullable=False),
        sa.Column("value_hash", ExactString(64), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "key", name="pk_memory_item_metadata"),
    )
    op.create_index(
        "ix_memory_item_metadata_user_key_value",
        "memory_item_metadata",
        ["user_id", "key", "value_hash", "item_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_memory_item_metadata_user_key_value", table_name="memory_item_metadata")
    op.drop_table("memory_item_metadata")
    with op.batch_alter_table("memory_items") as batch:
        batch.drop_column("occurred_at")
        batch.drop_column("metadata_json")
