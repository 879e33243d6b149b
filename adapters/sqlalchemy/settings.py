"""Per-user memory settings in SQL."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from memvault.adapters.sqlalchemy.tables import memory_user_settings as t
from memvault.adapters.sqlalchemy.upsert import upsert
from memvault.application.ports.repositories import SettingsRepository
from memvault.domain.settings import MemorySettings

FLAGS = ("memory_enabled", "implicit_memory_enabled", "sensitive_memory_enabled")


@cache
def _by_user() -> Select[Any]:
    """Built once: every search reads the settings with it."""
    return select(t).where(t.c.user_id == bindparam("user_id"))


class SqlSettingsRepository(SettingsRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def get(self, user_id: str) -> MemorySettings | None:
        row = (await self._conn.execute(_by_user(), {"user_id": user_id})).first()
        if row is None:
            return None
        m = row._mapping
        return MemorySettings(
            user_id=user_id,
            memory_enabled=bool(m["memory_enabled"]),
            implicit_memory_enabled=bool(m["implicit_memory_enabled"]),
            sensitive_memory_enabled=bool(m["sensitive_memory_enabled"]),
            updated_at=m["updated_at"],
        )

    async def upsert(self, settings: MemorySettings) -> None:
        values = {flag: getattr(settings, flag) for flag in FLAGS}
        values |= {"user_id": settings.user_id, "updated_at": settings.updated_at}
        stmt = upsert(
            self._conn.dialect.name,
            t,
            values,
            keys=["user_id"],
            update=[*FLAGS, "updated_at"],
        )
        await self._conn.execute(stmt)
