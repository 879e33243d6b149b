"""Migrations run with the same async URL the service uses (``MEMVAULT_DATABASE_URL``).

An explicit URL can be passed by the caller in ``config.attributes["url"]`` (tests, CLI).
"""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Connection

from alembic import context
from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.tables import metadata
from memvault.container import Settings


def _url() -> str:
    url = context.config.attributes.get("url")
    return str(url) if url else Settings().effective_database_url


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run() -> None:
    engine = create_engine(_url(), pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
asyncio.run(_run())
