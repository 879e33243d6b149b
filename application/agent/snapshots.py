"""Agent state snapshots: written through the outbox, read back per user and conversation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from memvault.application.config import OutboxPolicy
from memvault.application.events import SERVICE_NAME, wrapper
from memvault.application.ports.clock import Clock
from memvault.application.ports.outbox_notifier import OutboxNotifier
from memvault.application.ports.repositories import UnitOfWorkFactory
from memvault.domain.conversation import AgentSnapshot, encode_snapshot
from memvault.domain.errors import NotFound
from memvault.domain.outbox import EventType, OutboxMessage


@dataclass(frozen=True, slots=True, kw_only=True)
class PutSnapshot:
    user_id: str
    conversation_id: str
    phase: str
    snapshot: Any


class PutSnapshotUseCase:
    """Writes an ``agent.state.snapshot.persist`` outbox row; the consumer upserts it."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        policy: OutboxPolicy,
        *,
        notifier: OutboxNotifier | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._notifier = notifier

    async def __call__(self, command: PutSnapshot) -> None:
        now = self._clock.now()
        payload = {
            "user_id": command.user_id,
            "conversation_id": command.conversation_id,
            "phase": command.phase,
            "snapshot_json": encode_snapshot(command.snapshot),
        }
        row = OutboxMessage(
            event_type=EventType.AGENT_STATE_SNAPSHOT_PERSIST.value,
            service_name=SERVICE_NAME,
            topic=self._policy.topic,
            message_key=command.conversation_id,
            payload=wrapper(
                event_type=EventType.AGENT_STATE_SNAPSHOT_PERSIST,
                payload=payload,
                aggregate_id=command.conversation_id,
                event_id=uuid.uuid4().hex,
            ),
            user_id=command.user_id,
            max_retry=self._policy.max_retry,
            next_retry_at=now,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            await uow.outbox.add(row)
            await uow.commit()
        if self._notifier is not None:
            self._notifier.outbox_written()


class GetSnapshotUseCase:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: str, conversation_id: str) -> AgentSnapshot:
        async with self._uow(read_only=True) as uow:
            snapshot = await uow.snapshots.get(user_id, conversation_id)
        if snapshot is None:
            raise NotFound(f"no snapshot for conversation {conversation_id}")
        return snapshot
