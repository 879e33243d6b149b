from __future__ import annotations

from functools import cache

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.engine import READ_ONLY
from memvault.adapters.sqlalchemy.migrations import head_revision
from memvault.application.ports.health import Probe

head = cache(head_revision)


class DatabaseProbe(Probe):
    """The database answers and its schema is at the newest migration."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def check(self) -> None:
        async with self._engine.connect() as opened:
            connection = await opened.execution_options(**{READ_ONLY: True})
            try:
                version = (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
            except DBAPIError as error:
                raise RuntimeError("the schema is missing: run `memvault db upgrade`") from error
        if version != head():
            raise RuntimeError(
                f"the schema is at {version}, not {head()}: run `memvault db upgrade`"
            )
