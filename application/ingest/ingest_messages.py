"""Chat ingestion (docs/behaviour.md, "Ingestion and the outbox"): turns and their outbox events,
in one transaction. Nothing is published here: the relay delivers after commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from memvault.application.config import OutboxPolicy
from memvault.application.events import SERVICE_NAME, wrapper
from memvault.application.ports.clock import Clock
from memvault.application.ports.outbox_notifier import OutboxNotifier
from memvault.application.ports.repositories import UnitOfWork, UnitOfWorkFactory
from memvault.application.request_context import REQUEST_ID
from memvault.domain.audit import Operator
from memvault.domain.conversation import ChatMessage, Role
from memvault.domain.errors import InvalidValue
from memvault.domain.jobs import MAX_SOURCE_TEXT, ExtractPayload, extract_job_key
from memvault.domain.metadata import Metadata
from memvault.domain.outbox import EventType, OutboxMessage

MAX_MESSAGES = 100


class Extraction(StrEnum):
    QUEUED = "queued"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomingMessage:
    role: str
    content: str
    message_id: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestMessages:
    user_id: str
    conversation_id: str
    messages: Sequence[IncomingMessage]
    assistant_id: str | None = None
    run_id: str | None = None
    metadata: Metadata = field(default_factory=dict)
    """Copied to every memory extracted from these turns (validated by the caller with
    ``domain.metadata.require_metadata``)."""
    operator: Operator | None = None
    """The API key sending the turns; the memories extracted from them are audited under
    it. ``None``: the user's own token."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestedMessage:
    message_id: str
    extraction: Extraction
    job_key: str | None


def parse_role(value: str, index: int) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError as error:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidValue(
            f"messages[{index}].role must be one of {allowed}", field=f"messages[{index}].role"
        ) from error


class IngestMessagesUseCase:
    """Stores every turn; each user turn with text gets one ``memory.extract.requested``
    outbox row. A turn whose message id was stored before is not stored or queued twice."""

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

    async def __call__(self, command: IngestMessages) -> list[IngestedMessage]:
        if not 1 <= len(command.messages) <= MAX_MESSAGES:
            raise InvalidValue(f"send 1 to {MAX_MESSAGES} messages", field="messages")
        now = self._clock.now()
        roles = [parse_role(m.role, i) for i, m in enumerate(command.messages)]
        async with self._uow() as uow:
            results = [
                await self._ingest(uow, command, message, role, now)
                for message, role in zip(command.messages, roles, strict=True)
            ]
            await uow.commit()
        if self._notifier is not None and any(r.extraction is Extraction.QUEUED for r in results):
            self._notifier.outbox_written()
        return results

    async def _ingest(
        self,
        uow: UnitOfWork,
        command: IngestMessages,
        message: IncomingMessage,
        role: Role,
        now: datetime,
    ) -> IngestedMessage:
        """Store one turn and, for a new user turn with text, its outbox event."""
        turn = ChatMessage(
            user_id=command.user_id,
            conversation_id=command.conversation_id,
            message_id=message.message_id or uuid.uuid4().hex,
            role=role,
            content=message.content,
            assistant_id=command.assistant_id,
            run_id=command.run_id,
            occurred_at=message.occurred_at or now,
            created_at=now,
        )
        is_new = await uow.chat.add(turn)
        key = self._job_key(turn, has_id=message.message_id is not None)
        if key is not None and is_new:
            await uow.outbox.add(self._event(command, turn, key, now))
        return IngestedMessage(
            message_id=turn.message_id,
            extraction=Extraction.SKIPPED if key is None else Extraction.QUEUED,
            job_key=key,
        )

    @staticmethod
    def _job_key(turn: ChatMessage, *, has_id: bool) -> str | None:
        text = turn.content.strip()
        if turn.role is not Role.USER or not text:
            return None
        return extract_job_key(
            user_id=turn.user_id,
            conversation_id=turn.conversation_id,
            text=text[:MAX_SOURCE_TEXT],
            message_id=turn.message_id if has_id else None,
        )

    def _event(
        self, command: IngestMessages, turn: ChatMessage, key: str, now: datetime
    ) -> OutboxMessage:
        payload = ExtractPayload(
            user_id=turn.user_id,
            conversation_id=turn.conversation_id,
            source_role=turn.role.value,
            source_text=turn.content.strip()[:MAX_SOURCE_TEXT],
            occurred_at=turn.occurred_at,
            idempotency_key=key,
            assistant_id=command.assistant_id,
            run_id=command.run_id,
            source_message_id=turn.message_id,
            trace_id=REQUEST_ID.get(),
            metadata=dict(command.metadata),
            operator=command.operator,
        )
        return OutboxMessage(
            event_type=EventType.MEMORY_EXTRACT_REQUESTED.value,
            service_name=SERVICE_NAME,
            topic=self._policy.topic,
            message_key=turn.conversation_id,
            payload=wrapper(
                event_type=EventType.MEMORY_EXTRACT_REQUESTED,
                payload=payload.to_mapping(),
                aggregate_id=turn.conversation_id,
                event_id=uuid.uuid4().hex,
            ),
            user_id=turn.user_id,
            max_retry=self._policy.max_retry,
            next_retry_at=now,
            created_at=now,
            updated_at=now,
        )
