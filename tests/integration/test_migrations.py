"""The one alembic chain works on every dialect: upgrade → downgrade → upgrade ("stairway")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.migrations import downgrade, upgrade
from memvault.adapters.sqlalchemy.tables import metadata
from memvault.adapters.sqlalchemy.types import ExactString
from tests.databases import DIALECTS, fresh_database


def _schema_report(connection: Connection) -> tuple[set[str], list[object]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return set(inspect(connection).get_table_names()), compare_metadata(context, metadata)


def schema(url: str) -> tuple[set[str], list[object]]:
    async def run() -> tuple[set[str], list[object]]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(_schema_report)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_migration_goes_up_down_and_up_again(dialect: str, tmp_path: Path):
    with fresh_database(dialect, tmp_path, migrate=False) as url:
        upgrade(url)
        tables, differences = schema(url)
        assert set(metadata.tables) <= tables
        assert differences == [], "the migrations and tables.py disagree"

        downgrade(url, "base")
        tables, _ = schema(url)
        assert tables <= {"alembic_version"}

        upgrade(url)
        tables, differences = schema(url)
        assert set(metadata.tables) <= tables
        assert differences == []


def exact_columns() -> set[tuple[str, str]]:
    return {
        (table.name, column.name)
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, ExactString)
    }


async def _mysql(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def mysql(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    return asyncio.run(_mysql(url, statement, **params))


def collations(url: str) -> dict[tuple[str, str], str]:
    rows = mysql(
        url,
        "SELECT table_name, column_name, collation_name FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND collation_name IS NOT NULL",
    )
    return {(str(t), str(c)): str(collation) for t, c, collation in rows}


def test_every_identifier_column_is_binary_no_pad_on_mysql(tmp_path: Path):
    with fresh_database("mysql", tmp_path) as url:
        found = collations(url)
        exact = {key: found[key] for key in exact_columns()}
        assert set(exact.values()) == {"utf8mb4_nopad_bin"}  # the test server is MariaDB
        others = {found[key] for key in found.keys() - exact_columns()}
        assert "utf8mb4_nopad_bin" not in others, "only identifiers change collation"


def test_the_migration_stops_lookalike_user_ids_matching_existing_rows(tmp_path: Path):
    with fresh_database("mysql", tmp_path, migrate=False) as url:
        upgrade(url, "0003")
        mysql(
            url,
            "INSERT INTO memory_user_settings (user_id, memory_enabled, implicit_memory_enabled,"
            " sensitive_memory_enabled, updated_at) VALUES ('alice', 1, 1, 0, NOW())",
        )
        lookup = "SELECT user_id FROM memory_user_settings WHERE user_id = :user"
        for lookalike in ["ALICE ", "alice ", "alicé", "Alice"]:
            assert mysql(url, lookup, user=lookalike) == [("alice",)]

        upgrade(url)
        for lookalike in ["ALICE ", "alice ", "alicé", "Alice", "alice\u0301"]:
            assert mysql(url, lookup, user=lookalike) == []
        assert mysql(url, lookup, user="alice") == [("alice",)]
        mysql(
            url,
            "INSERT INTO memory_user_settings (user_id, memory_enabled, implicit_memory_enabled,"
            " sensitive_memory_enabled, updated_at) VALUES ('alice ', 1, 1, 0, NOW())",
        )
        assert mysql(url, lookup, user="alice ") == [("alice ",)]

        mysql(url, "DELETE FROM memory_user_settings WHERE user_id = 'alice '")
        downgrade(url, "0003")
        assert set(collations(url).values()) & {"utf8mb4_nopad_bin"} == set()
