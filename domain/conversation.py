"""Chat turns and agent state snapshots."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from memvault.domain.errors import InvalidValue, TooLarge
from memvault.domain.text import has_forbidden_control

MAX_SNAPSHOT_DEPTH = 64
"""Containers (lists, objects) nested inside a snapshot, the snapshot itself counted."""
MAX_SNAPSHOT_BYTES = 1_000_000
"""The snapshot's UTF-8 JSON encoding."""


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


def encode_snapshot(snapshot: Any) -> str:
    """The JSON text stored for an agent state snapshot.

    ``InvalidValue`` (field ``snapshot``) when it nests more than ``MAX_SNAPSHOT_DEPTH``
    containers or a string or key breaks the text rule; ``TooLarge`` when its encoding
    exceeds ``MAX_SNAPSHOT_BYTES``. The walk is iterative: no depth can overflow it.
    """
    pending: list[tuple[Any, int]] = [(snapshot, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth + 1 > MAX_SNAPSHOT_DEPTH:
                raise InvalidValue(
                    f"snapshot nests deeper than {MAX_SNAPSHOT_DEPTH} levels", field="snapshot"
                )
            children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
    text = json.dumps(snapshot, ensure_ascii=False)
    if len(text.encode("utf-8")) > MAX_SNAPSHOT_BYTES:
        raise TooLarge(f"snapshot is larger than {MAX_SNAPSHOT_BYTES} bytes", field="snapshot")
    return text


def _check_text(text: str) -> None:
    if has_forbidden_control(text):
        raise InvalidValue(
            "snapshot strings must not hold NUL or control characters other than tab,"
            " line feed and carriage return",
            field="snapshot",
        )
