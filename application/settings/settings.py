"""Read and change a user's memory settings (docs/behaviour.md, "Settings"); changes are audited."""

from __future__ import annotations

from dataclasses import dataclass, replace

from memvault.application.ports.clock import Clock
from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.domain.audit import AuditEntry, AuditOperation, AuditTarget, Operator
from memvault.domain.settings import MemorySettings


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeSettings:
    """Flags left ``None`` keep their current value."""

    user_id: str
    memory_enabled: bool | None = None
    implicit_memory_enabled: bool | None = None
    sensitive_memory_enabled: bool | None = None
    operator: Operator | None = None
    """Who is audited as making the change; ``None``: the user themselves."""


class GetSettingsUseCase:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: str) -> MemorySettings:
        async with self._uow(read_only=True) as uow:
            return await uow.settings.get(user_id) or MemorySettings(user_id=user_id)


class ChangeSettingsUseCase:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: ChangeSettings) -> MemorySettings:
        now = self._clock.now()
        operator = command.operator or Operator.user(command.user_id)
        changes = {
            name: value
            for name in ("memory_enabled", "implicit_memory_enabled", "sensitive_memory_enabled")
            if (value := getattr(command, name)) is not None
        }
        async with self._uow() as uow:
            current = await uow.settings.get(command.user_id)
            before = current or MemorySettings(user_id=command.user_id)
            after = replace(before, updated_at=now, **changes)
            await uow.settings.upsert(after)
            await uow.audit.add(
                AuditEntry.record(
                    target_type=AuditTarget.SETTINGS,
                    target_id=command.user_id,
                    user_id=command.user_id,
                    operation=AuditOperation.UPDATE,
                    operator_type=operator.type,
                    operator_id=operator.id,
                    reason=None,
                    default_reason="用户修改记忆设置",
                    before=current.snapshot() if current else None,
                    after=after.snapshot(),
                    now=now,
                )
            )
            await uow.commit()
        return after
