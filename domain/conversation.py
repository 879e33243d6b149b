"""Chat turns and agent state snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    """One stored chat turn. ``message_id`` is unique per user and conversation."""

    id: int | None = None
    user_id: str
    conversation_id: str
    message_id: str
    role: Role
    content: str
    assistant_id: str | None = None
    run_id: str | None = None
    occurred_at: datetime
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSnapshot:
    """The latest agent state of one conversation of one user (docs/adr/0008)."""

    user_id: str
    conversation_id: str
    phase: str
    snapshot_json: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
