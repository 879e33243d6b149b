"""The one alembic chain works on every dialect: upgrade → downgrade → upgrade ("stairway")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.migrations import downgrade, upgrade
from adapters.sqlalchemy.tables import metadata
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
