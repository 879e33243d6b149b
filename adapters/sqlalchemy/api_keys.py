"""API keys in SQL: looked up by the hash of the secret (a unique index)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.tables import memvault_api_keys as t
from memvault.application.ports.api_keys import ApiKeyRepository
from memvault.domain.api_keys import ApiKey, KeyScope


def _key(m: RowMapping) -> ApiKey:
    return ApiKey(
        id=int(m["id"]),
        name=m["name"],
        prefix=m["prefix"],
        secret_hash=m["secret_hash"],
        scope=KeyScope.parse(m["scope"]),
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
    )


class SqlApiKeyRepository(ApiKeyRepository):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, key: ApiKey) -> ApiKey:
        values: dict[str, Any] = {
            "name": key.name,
            "prefix": key.prefix,
            "secret_hash": key.secret_hash,
            "scope": str(key.scope),
            "created_at": key.created_at,
            "expires_at": key.expires_at,
            "revoked_at": key.revoked_at,
            "last_used_at": key.last_used_at,
        }
        async with self._engine.begin() as conn:
            result = await conn.execute(t.insert().values(**values))
        key.id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return key

    async def _one(self, *where: Any) -> ApiKey | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(t).where(*where))).first()
        return None if row is None else _key(row._mapping)

    async def by_hash(self, secret_hash: str) -> ApiKey | None:
        return await self._one(t.c.secret_hash == secret_hash)

    async def get(self, key_id: int) -> ApiKey | None:
        return await self._one(t.c.id == key_id)

    async def list(self) -> list[ApiKey]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(t).order_by(t.c.id.desc()))).all()
        return [_key(row._mapping) for row in rows]

    async def revoke(self, key_id: int, *, now: datetime) -> bool:
        stmt = update(t).where(t.c.id == key_id, t.c.revoked_at.is_(None)).values(revoked_at=now)
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def record_use(self, key_id: int, *, now: datetime, unless_since: datetime) -> None:
        stale = or_(t.c.last_used_at.is_(None), t.c.last_used_at < unless_since)
        async with self._engine.begin() as conn:
            await conn.execute(update(t).where(t.c.id == key_id, stale).values(last_used_at=now))
