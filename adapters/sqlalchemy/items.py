"""Memory items in SQL."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from memvault.adapters.sqlalchemy.lexical import matches, posting_rows
from memvault.adapters.sqlalchemy.tables import memory_item_metadata as meta
from memvault.adapters.sqlalchemy.tables import memory_items as t
from memvault.adapters.sqlalchemy.tables import memory_postings as postings
from memvault.adapters.sqlalchemy.visibility import (
    metadata_clauses,
    metadata_parameters,
    parameters,
    shape_of,
    visible,
)
from memvault.application.ports.repositories import (
    ItemCursor,
    ItemQuery,
    LexicalMatches,
    MemoryItemRepository,
    Posting,
    ScopeQuery,
    VectorState,
)
from memvault.domain.memory import MemoryItem, MemoryStatus, MemoryType, Scope, VectorStatus
from memvault.domain.metadata import decode as decode_metadata
from memvault.domain.metadata import encode as encode_metadata
from memvault.domain.metadata import tokens

_TYPES = {kind.value: kind for kind in MemoryType}
_STATUSES = {status.value: status for status in MemoryStatus}
_VECTOR_STATUSES = {status.value: status for status in VectorStatus}
"""Enum members by stored value: a dict lookup is a tenth of an ``Enum(value)`` call, and
the read path converts every candidate row."""

LIST_ORDER = (t.c.is_explicit.desc(), t.c.importance.desc(), t.c.updated_at.desc(), t.c.id.desc())


def to_row(item: MemoryItem) -> dict[str, Any]:
    return {
        "user_id": item.user_id,
        "conversation_id": item.scope.conversation_id,
        "assistant_id": item.scope.assistant_id,
        "run_id": item.scope.run_id,
        "memory_type": item.memory_type.value,
        "title": item.title,
        "content": item.content,
        "normalized_content": item.normalized_content,
        "content_hash": item.content_hash,
        "confidence": round(item.confidence, 4),
        "importance": round(item.importance, 4),
        "sensitivity_level": item.sensitivity_level,
        "source_message_id": item.source_message_id,
        "source_event_id": item.source_event_id,
        "is_explicit": item.is_explicit,
        "status": item.status.value,
        "ttl_at": item.ttl_at,
        "last_access_at": item.last_access_at,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "vector_status": item.vector_status.value,
        "vector_id": item.vector_id,
        "metadata_json": encode_metadata(item.metadata) if item.metadata else None,
        "occurred_at": item.occurred_at,
    }


_COLUMNS = (
    "id",
    "user_id",
    "conversation_id",
    "assistant_id",
    "run_id",
    "memory_type",
    "title",
    "content",
    "normalized_content",
    "content_hash",
    "confidence",
    "importance",
    "sensitivity_level",
    "source_message_id",
    "source_event_id",
    "is_explicit",
    "status",
    "ttl_at",
    "last_access_at",
    "created_at",
    "updated_at",
    "vector_status",
    "vector_id",
    "metadata_json",
    "occurred_at",
    "vector_sync_until",
)
if tuple(c.name for c in t.columns) != _COLUMNS:  # from_row unpacks rows by position
    raise RuntimeError("memory_items' columns changed: update items._COLUMNS and from_row")


def from_row(row: Sequence[Any]) -> MemoryItem:
    """A row of ``select(memory_items)`` (every column, in table order) as an item.

    Unpacked by position: the search converts every candidate, and reading 25 values by
    name through ``row._mapping`` cost about as much as SQLite fetching them."""
    (
        id_,
        user_id,
        conversation_id,
        assistant_id,
        run_id,
        memory_type,
        title,
        content,
        normalized_content,
        content_hash,
        confidence,
        importance,
        sensitivity_level,
        source_message_id,
        source_event_id,
        is_explicit,
        status,
        ttl_at,
        last_access_at,
        created_at,
        updated_at,
        vector_status,
        vector_id,
        metadata_json,
        occurred_at,
        _sync_until,  # the sweeper's concern, in SQL alone
    ) = row
    return MemoryItem(
        id=id_,
        user_id=user_id,
        scope=Scope(conversation_id=conversation_id, assistant_id=assistant_id, run_id=run_id),
        memory_type=_TYPES[memory_type],
        title=title,
        content=content,
        normalized_content=normalized_content or "",
        content_hash=content_hash or "",
        confidence=float(confidence),
        importance=float(importance),
        sensitivity_level=sensitivity_level,
        source_message_id=source_message_id,
        source_event_id=source_event_id,
        is_explicit=bool(is_explicit),
        status=_STATUSES[status],
        ttl_at=ttl_at,
        last_access_at=last_access_at,
        created_at=created_at,
        updated_at=updated_at,
        vector_status=_VECTOR_STATUSES[vector_status],
        vector_id=vector_id,
        metadata=decode_metadata(metadata_json),
        occurred_at=occurred_at,
    )


def after_cursor(cursor: ItemCursor) -> ColumnElement[bool]:
    """Rows strictly after ``cursor`` in ``LIST_ORDER`` (every key descending)."""
    explicit = t.c.is_explicit == cursor.is_explicit
    importance = t.c.importance == round(cursor.importance, 4)
    updated = t.c.updated_at == cursor.updated_at
    return or_(
        t.c.is_explicit == false() if cursor.is_explicit else false(),
        and_(explicit, t.c.importance < round(cursor.importance, 4)),
        and_(explicit, importance, t.c.updated_at < cursor.updated_at),
        and_(explicit, importance, updated, t.c.id < cursor.id),
    )


@cache
def _many() -> Select[Any]:
    """Built once (the search re-reads its candidates with it on every request)."""
    return select(t).where(
        t.c.user_id == bindparam("user_id"), t.c.id.in_(bindparam("ids", expanding=True))
    )


class SqlMemoryItemRepository(MemoryItemRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, item: MemoryItem, *, sync_until: datetime | None = None) -> MemoryItem:
        row = to_row(item) | {"vector_sync_until": sync_until}
        result = await self._conn.execute(insert(t).values(**row))
        item.id = int(result.inserted_primary_key[0])  # type: ignore[index]
        await self._index(item)
        return item

    async def _index(self, item: MemoryItem) -> None:
        """Rewrite the item's postings (the lexical index) in this transaction."""
        if item.id is None:
            raise ValueError("cannot index an item that was never added")
        await self._conn.execute(delete(postings).where(postings.c.item_id == item.id))
        rows = posting_rows(item.id, item.user_id, f"{item.title} {item.content}")
        if rows:
            await self._conn.execute(insert(postings), rows)
        await self._conn.execute(delete(meta).where(meta.c.item_id == item.id))
        if item.metadata:
            await self._conn.execute(
                insert(meta),
                [
                    {"item_id": item.id, "key": k, "user_id": item.user_id, "value_hash": h}
                    for k, h in (tok.partition("=")[::2] for tok in tokens(item.metadata))
                ],
            )

    async def get(
        self, user_id: str, item_id: int, *, for_update: bool = False
    ) -> MemoryItem | None:
        stmt = select(t).where(t.c.user_id == user_id, t.c.id == item_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else from_row(row)

    async def update(self, item: MemoryItem, *, sync_until: datetime | None = None) -> None:
        if item.id is None:
            raise ValueError("cannot update an item that was never added")
        row = to_row(item) | {"vector_sync_until": sync_until}
        await self._conn.execute(
            update(t).where(t.c.id == item.id, t.c.user_id == item.user_id).values(**row)
        )
        await self._index(item)

    async def find_by_hash(
        self, user_id: str, memory_type: MemoryType, content_hash: str
    ) -> list[MemoryItem]:
        stmt = select(t).where(
            t.c.user_id == user_id,
            t.c.memory_type == memory_type.value,
            t.c.content_hash == content_hash,
            t.c.status == MemoryStatus.ACTIVE.value,
        )
        return [from_row(row) for row in await self._conn.execute(stmt)]

    async def set_vector_states(self, states: Sequence[VectorState]) -> None:
        for state in states:
            stmt = update(t).where(t.c.id == state.item_id)
            if state.expected_updated_at is not None:
                stmt = stmt.where(t.c.updated_at == state.expected_updated_at)
            values: dict[str, Any] = {
                "vector_status": state.status.value,
                "vector_id": state.vector_id,
            }
            if state.status is not VectorStatus.PENDING:  # an outcome: that sync ended
                values["vector_sync_until"] = None
            await self._conn.execute(stmt.values(**values))

    async def hold_vector_syncs(
        self, item_ids: Sequence[int], *, now: datetime, until: datetime
    ) -> set[int]:
        if not item_ids:
            return set()
        ids = list(item_ids)
        # A row another sweeper holds (committed, or locked until it commits: the UPDATE
        # re-reads it then) fails the condition; the SELECT tells which rows this one got.
        free = or_(t.c.vector_sync_until.is_(None), t.c.vector_sync_until <= now)
        await self._conn.execute(
            update(t).where(t.c.id.in_(ids), free).values(vector_sync_until=until)
        )
        held = select(t.c.id).where(t.c.id.in_(ids), t.c.vector_sync_until == until)
        return {int(v) for v in (await self._conn.execute(held)).scalars()}

    async def unsynced(
        self,
        *,
        changed_before: datetime,
        now: datetime,
        limit: int,
        exclude: Collection[int] = (),
    ) -> list[MemoryItem]:
        behind = and_(
            t.c.vector_status.in_([VectorStatus.PENDING.value, VectorStatus.FAILED.value]),
            t.c.updated_at <= changed_before,
        )
        expired = and_(t.c.vector_status == VectorStatus.SYNCED.value, t.c.ttl_at <= now)
        free = or_(t.c.vector_sync_until.is_(None), t.c.vector_sync_until <= now)
        stmt = select(t).where(or_(behind, expired), free).order_by(t.c.updated_at).limit(limit)
        if exclude:
            stmt = stmt.where(t.c.id.not_in(list(exclude)))
        return [from_row(row) for row in await self._conn.execute(stmt)]

    async def duplicated(self, *, user_id: str | None, limit: int | None) -> list[MemoryItem]:
        active = [t.c.status == MemoryStatus.ACTIVE.value, t.c.content_hash.is_not(None)]
        if user_id is not None:
            active.append(t.c.user_id == user_id)
        groups = (
            select(t.c.user_id, t.c.memory_type, t.c.content_hash)
            .where(*active)
            .group_by(t.c.user_id, t.c.memory_type, t.c.content_hash)
            .having(func.count() > 1)
            .subquery()
        )
        stmt = (
            select(t)
            .join(
                groups,
                and_(
                    t.c.user_id == groups.c.user_id,
                    t.c.memory_type == groups.c.memory_type,
                    t.c.content_hash == groups.c.content_hash,
                ),
            )
            .where(*active)
            .order_by(
                t.c.user_id,
                t.c.memory_type,
                t.c.content_hash,
                t.c.updated_at.desc(),
                t.c.confidence.desc(),
                t.c.id.desc(),
            )
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return [from_row(row) for row in await self._conn.execute(stmt)]

    async def visible_ids(self, item_ids: Sequence[int], *, now: datetime) -> set[int]:
        if not item_ids:
            return set()
        stmt = select(t.c.id).where(
            t.c.id.in_(list(item_ids)),
            t.c.status == MemoryStatus.ACTIVE.value,
            or_(t.c.ttl_at.is_(None), t.c.ttl_at > now),
        )
        return {int(v) for v in (await self._conn.execute(stmt)).scalars()}

    async def count_all(self) -> int:
        return int((await self._conn.execute(select(func.count()).select_from(t))).scalar_one())

    async def all_after(self, item_id: int, *, limit: int) -> list[MemoryItem]:
        stmt = select(t).where(t.c.id > item_id).order_by(t.c.id).limit(limit)
        return [from_row(row) for row in await self._conn.execute(stmt)]

    async def page(self, query: ItemQuery) -> list[MemoryItem]:
        stmt = select(t).where(
            t.c.user_id == query.user_id, t.c.status.in_([s.value for s in query.statuses])
        )
        if query.memory_types:
            stmt = stmt.where(t.c.memory_type.in_([m.value for m in query.memory_types]))
        if query.conversation_id is not None:
            stmt = stmt.where(
                or_(t.c.conversation_id == query.conversation_id, t.c.conversation_id.is_(None))
            )
        if query.after is not None:
            stmt = stmt.where(after_cursor(query.after))
        if query.metadata_tokens:
            stmt = stmt.where(*metadata_clauses(len(query.metadata_tokens)))
        stmt = stmt.order_by(*LIST_ORDER).limit(query.limit)
        values = metadata_parameters(query.metadata_tokens)
        return [from_row(row) for row in await self._conn.execute(stmt, values)]

    async def get_many(self, user_id: str, item_ids: Sequence[int]) -> list[MemoryItem]:
        if not item_ids:
            return []
        values = {"user_id": user_id, "ids": list(item_ids)}
        rows = (await self._conn.execute(_many(), values)).all()  # one fetchall, not one per row
        return [from_row(row) for row in rows]

    async def scope(self, query: ScopeQuery) -> list[MemoryItem]:
        stmt = select(t).where(*visible(shape_of(query))).order_by(*LIST_ORDER).limit(query.limit)
        return [from_row(row) for row in await self._conn.execute(stmt, parameters(query))]

    async def lexical(self, query: ScopeQuery, query_terms: Sequence[str]) -> LexicalMatches:
        if not query_terms:
            return LexicalMatches(postings=[], documents=0, average_length=1.0)
        stmt, values = matches(query, query_terms)
        rows = (await self._conn.execute(stmt, values)).all()
        if not rows:
            return LexicalMatches(postings=[], documents=0, average_length=1.0)
        return LexicalMatches(
            postings=[
                Posting(item_id=int(r[0]), term=r[1], tf=int(r[2]), doc_len=int(r[3])) for r in rows
            ],
            documents=int(rows[0][4] or 0),
            average_length=float(rows[0][5] or 1.0),
        )

    async def touch(self, accessed: Mapping[int, datetime]) -> None:
        stmt = (
            update(t)
            .where(
                t.c.id == bindparam("item"),
                or_(t.c.last_access_at.is_(None), t.c.last_access_at < bindparam("at")),
            )
            .values(last_access_at=bindparam("at"))
        )
        rows = [{"item": item_id, "at": at} for item_id, at in sorted(accessed.items())]
        if rows:
            await self._conn.execute(stmt, rows)
