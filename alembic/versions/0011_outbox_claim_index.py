"""index for the relay's claim: due outbox rows in (next_retry_at, id) order

Without it, every claim read and sorted every due row (a backlog of 20,000 rows cost
36 ms per claim of 100 on PostgreSQL; with it, 0.1 ms: ``python -m bench.throughput``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NAME = "ix_memory_outbox_messages_next_id"
TABLE = "memory_outbox_messages"


def upgrade() -> None:
    op.create_index(NAME, TABLE, ["next_retry_at", "id"])


def downgrade() -> None:
    op.drop_index(NAME, table_name=TABLE)
