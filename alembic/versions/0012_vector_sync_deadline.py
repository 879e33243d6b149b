"""memory_items.vector_sync_until: until when a started vector sync may still run

The re-sync sweeper leaves an item alone until then, whichever process started the
sync (the API after its commit, a worker, another sweeper); a crashed sync's items are
taken once it passed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from memvault.adapters.sqlalchemy.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memory_items") as batch:
        batch.add_column(sa.Column("vector_sync_until", UTCDateTime))


def downgrade() -> None:
    with op.batch_alter_table("memory_items") as batch:
        batch.drop_column("vector_sync_until")
