"""Operator views of the outbox and of dead events, and the outbox retry (audited)."""

from __future__ import annotations

from memvault.application.ports.clock import Clock
from memvault.application.ports.repositories import DeadEvent, UnitOfWorkFactory
from memvault.application.shared.cursors import decode_id_cursor, encode_id_cursor
from memvault.application.shared.paging import page_limit
from memvault.domain.audit import AuditEntry, AuditTarget
from memvault.domain.errors import InvalidValue, NotFound
from memvault.domain.outbox import OutboxMessage, OutboxStatus


def parse_outbox_status(value: str | None) -> OutboxStatus | None:
    if not value:
        return None
    try:
        return OutboxStatus(value.strip().lower())
    except ValueError as error:
        allowed = ", ".join(s.value for s in OutboxStatus)
        raise InvalidValue(f"status must be one of {allowed}", field="status") from error


class ListOutboxUseCase:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, *, status: str | None, limit: int | None, cursor: str | None
    ) -> tuple[list[OutboxMessage], str | None]:
        size = page_limit(limit, default=20, maximum=100)
        async with self._uow(read_only=True) as uow:
            rows = await uow.outbox.list(
                status=parse_outbox_status(status),
                limit=size + 1,
                before_id=decode_id_cursor(cursor),
            )
        page = rows[:size]
        return page, encode_id_cursor(page[-1].id) if len(rows) > size else None


class ListDeadEventsUseCase:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, *, limit: int | None, cursor: str | None
    ) -> tuple[list[DeadEvent], str | None]:
        size = page_limit(limit, default=20, maximum=100)
        async with self._uow(read_only=True) as uow:
            rows = await uow.events.list_dead(limit=size + 1, before_id=decode_id_cursor(cursor))
        page = rows[:size]
        return page, encode_id_cursor(page[-1].id) if len(rows) > size else None


class RetryOutboxUseCase:
    """A ``dead`` outbox row goes back to ``pending`` for the relay (audited)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, outbox_id: int, *, operator: str, reason: str | None) -> OutboxMessage:
        now = self._clock.now()
        async with self._uow() as uow:
            row = await uow.outbox.get(outbox_id, for_update=True)
            if row is None:
                raise NotFound(f"outbox row {outbox_id} not found")
            before = (row.status.value, row.retry_count)
            row.replay(now=now)
            await uow.outbox.save(row)
            await uow.audit.add(
                AuditEntry.operator_retried(
                    target_type=AuditTarget.OUTBOX,
                    target_id=outbox_id,
                    user_id=row.user_id or "",
                    operator_id=operator,
                    reason=reason,
                    before=before,
                    after=(row.status.value, row.retry_count),
                    now=now,
                )
            )
            await uow.commit()
        return row
