"""``INSERT ... ON CONFLICT`` in each dialect's own words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert


def upsert(
    dialect: str,
    table: Table,
    values: Mapping[str, Any],
    *,
    keys: Sequence[str],
    update: Sequence[str],
) -> Insert:
    """Insert ``values``; on a conflict on ``keys`` overwrite the ``update`` columns."""
    if dialect in ("mysql", "mariadb"):
        my = mysql.insert(table).values(**values)
        return my.on_duplicate_key_update({c: my.inserted[c] for c in update})
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = dialect_insert(table).values(**values)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}
    )


async def insert_unless_exists(
    conn: AsyncConnection, table: Table, values: Mapping[str, Any]
) -> bool:
    """Insert ``values``; ``False`` when a unique key already holds them.

    A SAVEPOINT keeps the surrounding transaction usable after the duplicate-key error
    on every dialect. (MySQL's ``ON DUPLICATE KEY UPDATE`` cannot tell the two cases
    apart under the ``FOUND_ROWS`` flag SQLAlchemy sets, and ``INSERT IGNORE`` would
    also turn truncation into a warning.)
    """
    try:
        async with conn.begin_nested():
            await conn.execute(insert(table).values(**values))
    except IntegrityError:
        return False
    return True
