"""byte-exact identifiers on MySQL/MariaDB

Every identifier column (user, scope, message, event and job ids, idempotency and
outbox keys, hashes, lexical terms) gets the binary NO PAD ``utf8mb4`` collation, so
``'alice'``, ``'ALICE'``, ``'alice '`` and ``'alicé'`` are four different values in
comparisons, unique keys and groupings (see ``adapters.sqlalchemy.types.ExactString``).
PostgreSQL and SQLite already compare text exactly: there this revision does nothing.

``ALTER TABLE ... MODIFY`` keeps each column's length and nullability; MySQL rebuilds the
table and every index (primary and unique keys included) that holds a changed column.
Upgrading cannot fail on existing rows: the binary collation tells apart everything the
old one did. Downgrading can: two rows that only the binary collation tells apart (say
the postings ``cafe`` and ``café`` of one item) break a unique key of the old collation.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

from memvault.adapters.sqlalchemy.types import exact_collation

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# table → (column, length, nullable), as they stand at this revision.
COLUMNS: dict[str, list[tuple[str, int, bool]]] = {
    "memory_items": [
        ("user_id", 128, False),
        ("conversation_id", 128, True),
        ("assistant_id", 128, True),
        ("run_id", 128, True),
        ("content_hash", 64, True),
        ("source_message_id", 128, True),
        ("source_event_id", 128, True),
        ("vector_id", 128, True),
    ],
    "memory_jobs": [
        ("user_id", 128, False),
        ("conversation_id", 128, True),
        ("source_message_id", 128, True),
        ("source_event_id", 128, True),
        ("idempotency_key", 128, False),
        ("locked_by", 128, True),
    ],
    "memory_audit_logs": [
        ("target_id", 128, False),
        ("user_id", 128, False),
        ("operator_id", 128, True),
    ],
    "memory_user_settings": [("user_id", 128, False)],
    "memory_outbox_messages": [("message_key", 128, False), ("user_id", 128, True)],
    "memory_consumed_events": [("event_id", 128, False)],
    "memory_dead_events": [("event_id", 128, True)],
    "chat_messages": [
        ("user_id", 128, False),
        ("conversation_id", 128, False),
        ("message_id", 128, False),
        ("assistant_id", 128, True),
        ("run_id", 128, True),
    ],
    "agent_state_snapshots": [("user_id", 128, False), ("conversation_id", 128, False)],
    "idempotency_keys": [
        ("user_id", 128, False),
        ("idem_key", 255, False),
        ("request_hash", 64, False),
    ],
    "memory_user_locks": [("user_id", 128, False)],
    "memory_postings": [("user_id", 128, False), ("term", 64, False)],
}


def _alter(collate: str) -> None:
    """One ``ALTER TABLE`` per table, so each table is rebuilt once."""
    for table, columns in COLUMNS.items():
        modify = ", ".join(
            f"MODIFY `{name}` VARCHAR({length}){collate} {'NULL' if nullable else 'NOT NULL'}"
            for name, length, nullable in columns
        )
        op.execute(f"ALTER TABLE `{table}` {modify}")


def upgrade() -> None:
    dialect = op.get_bind().dialect
    if dialect.name in ("mysql", "mariadb"):
        _alter(f" CHARACTER SET utf8mb4 COLLATE {exact_collation(dialect)}")


def downgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        # A plain VARCHAR takes the table's default character set and collation again,
        # exactly as revision 0001 created it.
        _alter("")
