"""Idempotency keys in SQL: an insert races for the key, the row keeps the first response."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from memvault.adapters.sqlalchemy.tables import idempotency_keys as t
from memvault.adapters.sqlalchemy.upsert import insert_unless_exists
from memvault.application.ports.idempotency import (
    DEFAULT_LEASE,
    Claim,
    IdempotencyStore,
    KeyClaim,
    StoredResponse,
)

IN_PROGRESS = "in_progress"
DONE = "done"


class SqlIdempotencyStore(IdempotencyStore):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def _key(self, user_id: str, key: str) -> ColumnElement[bool]:
        return and_(t.c.user_id == user_id, t.c.idem_key == key)

    async def begin(
        self,
        user_id: str,
        key: str,
        request_hash: str,
        *,
        now: datetime,
        ttl: timedelta,
        lease: timedelta = DEFAULT_LEASE,
    ) -> KeyClaim:
        """An ``in_progress`` row's ``expires_at`` is its lease; a finished row's is the
        end of the key's life. Either way a row past it is taken over."""
        fresh = {
            "request_hash": request_hash,
            "status": IN_PROGRESS,
            "response_status": None,
            "response_body": None,
            "created_at": now,
            "expires_at": now + min(lease, ttl),
        }
        async with self._engine.begin() as conn:
            if await insert_unless_exists(conn, t, {"user_id": user_id, "idem_key": key, **fresh}):
                return KeyClaim(outcome=Claim.STARTED)
            taken_over = await conn.execute(
                update(t).where(self._key(user_id, key), t.c.expires_at <= now).values(**fresh)
            )
            if taken_over.rowcount == 1:
                return KeyClaim(outcome=Claim.STARTED)
            row = (await conn.execute(select(t).where(self._key(user_id, key)))).one()
        m = row._mapping
        if m["request_hash"] != request_hash:
            return KeyClaim(outcome=Claim.MISMATCH)
        if m["status"] == IN_PROGRESS:
            return KeyClaim(outcome=Claim.IN_PROGRESS)
        content_type, _, body = (m["response_body"] or "").partition("\n")
        return KeyClaim(
            outcome=Claim.REPLAY,
            response=StoredResponse(
                status=int(m["response_status"]),
                body=body.encode("utf-8"),
                content_type=content_type,
            ),
        )

    async def finish(
        self, user_id: str, key: str, response: StoredResponse, *, expires_at: datetime
    ) -> None:
        stored = f"{response.content_type}\n{response.body.decode('utf-8', errors='replace')}"
        async with self._engine.begin() as conn:
            await conn.execute(
                update(t)
                .where(self._key(user_id, key))
                .values(
                    status=DONE,
                    response_status=response.status,
                    response_body=stored,
                    expires_at=expires_at,
                )
            )

    async def abandon(self, user_id: str, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(t).where(self._key(user_id, key), t.c.status == IN_PROGRESS))
