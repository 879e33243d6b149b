"""compact lexical postings

One row per (user key, term, item) holding the term count, plus a document row per item
(empty term, its length), instead of (item, user id, term, tf, doc_len) under two
indexes: the user id string and the length are no longer repeated in every row, and on
SQLite the table is WITHOUT ROWID. The postings are rebuilt from the items.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from memvault.adapters.sqlalchemy.lexical import posting_rows
from memvault.adapters.sqlalchemy.types import ExactString, Id
from memvault.domain.lexical import term_counts

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1000
ITEMS = sa.table(
    "memory_items",
    sa.column("id", sa.Integer),
    sa.column("user_id", sa.String),
    sa.column("title", sa.String),
    sa.column("content", sa.Text),
)


def upgrade() -> None:
    op.drop_table("memory_postings")
    postings = op.create_table(
        "memory_postings",
        sa.Column("user_key", sa.Integer(), nullable=False),
        sa.Column("term", ExactString(64), nullable=False),
        sa.Column("item_id", Id, nullable=False),
        sa.Column("tf", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_key", "term", "item_id", name="pk_memory_postings"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_memory_postings_item_id", "memory_postings", ["item_id"], unique=False)
    _rebuild(postings, lambda item: posting_rows(item.id, item.user_id, _text(item)))


def downgrade() -> None:
    op.drop_table("memory_postings")
    postings = op.create_table(
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
    _rebuild(postings, _old_rows)


def _text(item: Any) -> str:
    return f"{item.title} {item.content}"


def _old_rows(item: Any) -> list[dict[str, Any]]:
    counts = term_counts(_text(item))
    length = sum(counts.values())
    return [
        {"item_id": item.id, "user_id": item.user_id, "term": term, "tf": tf, "doc_len": length}
        for term, tf in counts.items()
    ]


def _rebuild(postings: Any, rows_of: Callable[[Any], list[dict[str, Any]]]) -> None:
    connection = op.get_bind()
    for batch in _items(connection):
        rows = [row for item in batch for row in rows_of(item)]
        if rows:
            connection.execute(sa.insert(postings), rows)


def _items(connection: sa.Connection) -> Iterator[list[Any]]:
    after = 0
    while True:
        batch = connection.execute(
            sa.select(ITEMS).where(ITEMS.c.id > after).order_by(ITEMS.c.id).limit(BATCH)
        ).all()
        if not batch:
            return
        yield list(batch)
        after = batch[-1].id
