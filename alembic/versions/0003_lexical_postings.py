"""lexical postings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from memvault.adapters.sqlalchemy.types import Id

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memory_postings",
        sa.Column("item_id", Id, nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("tf", sa.Integer(), nullable=False),
        sa.Column("doc_len", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "term", name="pk_memory_postings"),
    )
    op.create_index(
        "ix_memory_postings_user_term", "memory_postings", ["user_id", "term"], unique=False
    )


def downgrade() -> None:
    op.drop_table("memory_postings")
