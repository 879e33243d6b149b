"""api keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from memvault.adapters.sqlalchemy.types import ExactString, Id, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memvault_api_keys",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", ExactString(64), nullable=False),
        sa.Column("prefix", ExactString(16), nullable=False),
        sa.Column("secret_hash", ExactString(64), nullable=False),
        sa.Column("scope", ExactString(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
        sa.Column("last_used_at", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_memvault_api_keys"),
        sa.UniqueConstraint("secret_hash", name="uq_memvault_api_keys_secret_hash"),
    )


def downgrade() -> None:
    op.drop_table("memvault_api_keys")
