"""indexes for the retention sweeper (purge by age)

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_chat_messages_created", "chat_messages", ["created_at"]),
    ("ix_memory_consumed_events_consumed", "memory_consumed_events", ["consumed_at"]),
    (
        "ix_memory_jobs_source_message",
        "memory_jobs",
        ["user_id", "conversation_id", "source_message_id"],
    ),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
