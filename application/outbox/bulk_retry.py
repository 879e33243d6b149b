"""Operators send many dead outbox rows again at once, by filter (docs/behaviour.md,
"Ingestion and the outbox"): each one audited as a single retry is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from memvault.application.outbox.admin import parse_outbox_status
from memvault.application.ports.clock import Clock
from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.domain.audit import AuditEntry, AuditTarget
from memvault.domain.errors import InvalidValue
from memvault.domain.outbox import OutboxStatus

MAX_BULK = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryOutboxRows:
    """Rows in ``status`` (only ``dead`` can be retried) last changed at or after
    ``since`` (of one user, if given), newest first, at most ``limit`` (1 to 1000)."""

    status: str
    since: datetime
    user_id: str | None = None
    limit: int = 100

    def check(self) -> OutboxStatus:
        status = parse_outbox_status(self.status)
        if status is not OutboxStatus.DEAD:
            raise InvalidValue("status must be dead", field="status")
        if not 1 <= self.limit <= MAX_BULK:
            raise InvalidValue(f"limit must be 1 to {MAX_BULK}", field="limit")
        return status


class RetryOutboxRowsUseCase:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self, command: RetryOutboxRows, *, operator: str, reason: str | None
    ) -> list[int]:
        """The ids of the rows sent back to ``pending`` for the relay."""
        status = command.check()
        now = self._clock.now()
        retried: list[int] = []
        async with self._uow() as uow:
            rows = await uow.outbox.list(
                status=status,
                limit=command.limit,
                user_id=command.user_id,
                updated_since=command.since,
            )
            for listed in rows:
                row = await uow.outbox.get(listed.id or 0, for_update=True)
                if row is None or row.status is not OutboxStatus.DEAD:
                    continue  # changed meanwhile
                before = (row.status.value, row.retry_count)
                row.replay(now=now)
                await uow.outbox.save(row)
                await uow.audit.add(
                    AuditEntry.operator_retried(
                        target_type=AuditTarget.OUTBOX,
                        target_id=row.id or 0,
                        user_id=row.user_id or "",
                        operator_id=operator,
                        reason=reason,
                        before=before,
                        after=(row.status.value, row.retry_count),
                        now=now,
                    )
                )
                retried.append(row.id or 0)
            await uow.commit()
        return retried
