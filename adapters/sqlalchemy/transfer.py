"""Export and import access to memory items in SQL."""

from __future__ import annotations

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from memvault.adapters.sqlalchemy.items import SqlMemoryItemRepository, from_row, to_row
from memvault.adapters.sqlalchemy.tables import memory_items as t
from memvault.application.ports.transfer import MemoryTransferRepository
from memvault.domain.memory import MemoryItem


class SqlMemoryTransferRepository(MemoryTransferRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def page(self, *, user_id: str | None, after_id: int, limit: int) -> list[MemoryItem]:
        stmt = select(t).where(t.c.id > after_id).order_by(t.c.id).limit(limit)
        if user_id is not None:
            stmt = stmt.where(t.c.user_id == user_id)
        return [from_row(row) for row in await self._conn.execute(stmt)]

    async def count(self, *, user_id: str | None) -> int:
        stmt = select(func.count()).select_from(t)
        if user_id is not None:
            stmt = stmt.where(t.c.user_id == user_id)
        return int((await self._conn.execute(stmt)).scalar_one())

    async def owner(self, item_id: int) -> str | None:
        found = await self._conn.execute(select(t.c.user_id).where(t.c.id == item_id))
        return found.scalar_one_or_none()

    async def insert(self, item: MemoryItem) -> None:
        if item.id is None:
            raise ValueError("an imported item keeps its id: set one")
        await self._conn.execute(insert(t).values(id=item.id, **to_row(item)))
        # ``update`` writes the same values again and (re)builds the item's postings.
        await SqlMemoryItemRepository(self._conn).update(item)

    async def ids_inserted(self) -> None:
        """PostgreSQL's serial sequence does not see explicit ids; MySQL's
        AUTO_INCREMENT and SQLite's rowid move past them on their own."""
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('memory_items', 'id'), "
                    "(SELECT COALESCE(MAX(id), 1) FROM memory_items))"
                )
            )
