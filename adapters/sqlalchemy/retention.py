"""Retention in SQL: each batch selects at most ``limit`` keys of old rows, then deletes
those keys with the rule repeated, in one short transaction (see the port)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Table, and_, delete, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from memvault.adapters.sqlalchemy.outbox import UNCONSUMED
from memvault.adapters.sqlalchemy.tables import chat_messages as chat
from memvault.adapters.sqlalchemy.tables import idempotency_keys, memory_dead_events, memory_jobs
from memvault.adapters.sqlalchemy.tables import memory_consumed_events as inbox
from memvault.adapters.sqlalchemy.tables import memory_outbox_messages as outbox
from memvault.application.ports.retention import Purgeable, RetentionStore
from memvault.domain.jobs import JobStatus
from memvault.domain.outbox import OutboxStatus

ENDED = [JobStatus.SUCCESS.value, JobStatus.DEAD.value]


@dataclass(frozen=True, slots=True)
class _Rule:
    table: Table
    key: tuple[Column[object], ...]
    old: ColumnElement[bool]


def _chat_turn_is_old(before: datetime) -> ColumnElement[bool]:
    """Stored before ``before``; no job of it still running or ended since; no outbox
    row of its conversation still on its way (its job may not exist yet)."""
    jobs = memory_jobs.c
    job_still_needs_it = (
        select(jobs.id)
        .where(
            jobs.user_id == chat.c.user_id,
            jobs.conversation_id == chat.c.conversation_id,
            jobs.source_message_id == chat.c.message_id,
            or_(jobs.status.not_in(ENDED), jobs.updated_at >= before),
        )
        .correlate(chat)
        .exists()
    )
    event_on_its_way = (
        select(outbox.c.id)
        .where(
            outbox.c.user_id == chat.c.user_id,
            outbox.c.message_key == chat.c.conversation_id,
            outbox.c.status.in_(UNCONSUMED),
        )
        .correlate(chat)
        .exists()
    )
    return and_(chat.c.created_at < before, ~job_still_needs_it, ~event_on_its_way)


def retention_rule(kind: Purgeable, before: datetime) -> _Rule:
    if kind is Purgeable.IDEMPOTENCY_KEYS:
        keys = idempotency_keys.c
        return _Rule(idempotency_keys, (keys.user_id, keys.idem_key), keys.expires_at < before)
    if kind is Purgeable.INBOX:
        return _Rule(inbox, (inbox.c.event_id,), inbox.c.consumed_at < before)
    if kind is Purgeable.CONSUMED_OUTBOX:
        consumed = and_(
            outbox.c.status == OutboxStatus.CONSUMED.value, outbox.c.updated_at < before
        )
        return _Rule(outbox, (outbox.c.id,), consumed)
    if kind is Purgeable.DEAD_EVENTS:
        dead = memory_dead_events.c
        return _Rule(memory_dead_events, (dead.id,), dead.created_at < before)
    return _Rule(chat, (chat.c.id,), _chat_turn_is_old(before))


def _keyed(
    key: tuple[Column[object], ...], values: list[tuple[object, ...]]
) -> ColumnElement[bool]:
    if len(key) == 1:
        return key[0].in_([value[0] for value in values])
    return tuple_(*key).in_(values)


class SqlRetentionStore(RetentionStore):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def purge(self, kind: Purgeable, *, before: datetime, limit: int) -> int:
        rule = retention_rule(kind, before)
        async with self._engine.begin() as conn:
            found = await conn.execute(select(*rule.key).where(rule.old).limit(limit))
            keys = [tuple(row) for row in found]
            if not keys:
                return 0
            deleted = await conn.execute(delete(rule.table).where(_keyed(rule.key, keys), rule.old))
        return int(deleted.rowcount)

    async def count(self, kind: Purgeable, *, before: datetime) -> int:
        rule = retention_rule(kind, before)
        async with self._engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(rule.table).where(rule.old))
        return int(total or 0)
