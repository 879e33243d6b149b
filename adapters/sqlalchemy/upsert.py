"""``INSERT ... ON CONFLICT`` in each dialect's own words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
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


def insert_ignore(dialect: str, table: Table, values: Mapping[str, Any], *, key: str) -> Insert:
    """Insert ``values`` unless the unique ``key`` already holds them (a silent no-op).

    MySQL gets ``ON DUPLICATE KEY UPDATE key=key`` rather than ``INSERT IGNORE``, which
    would also turn truncation and other data errors into warnings.
    """
    if dialect in ("mysql", "mariadb"):
        my = mysql.insert(table).values(**values)
        return my.on_duplicate_key_update({key: table.c[key]})
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return dialect_insert(table).values(**values).on_conflict_do_nothing()
