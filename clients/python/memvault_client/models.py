"""Typed results. Fields the server adds later are ignored, so an older client keeps
working against a newer server."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")
TERMINAL_JOB_STATES = frozenset({"success", "dead"})


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def build(cls: type[T], data: dict[str, Any]) -> T:
    """``cls`` from a JSON object: known fields only; ``*_at`` fields become datetimes."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {
        name: _time(value) if name.endswith("_at") else value
        for name, value in data.items()
        if name in known
    }
    return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class Memory:
    """A memory item. ``score`` is set on search and context results (0..1)."""

    id: int
    user_id: str
    memory_type: str
    title: str
    content: str
    status: str
    conversation_id: str | None = None
    assistant_id: str | None = None
    run_id: str | None = None
    content_hash: str | None = None
    confidence: float | None = None
    importance: float | None = None
    sensitivity_level: int | None = None
    is_explicit: bool | None = None
    ttl_at: datetime | None = None
    last_access_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    metadata: dict[str, Any] | None = None
    occurred_at: datetime | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    items: list[Memory]
    degraded: bool
    """The vector store or embedder was down: results came from the database path."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    text: str
    """The block to pin into the agent's prompt."""
    items: list[Memory]
    degraded: bool = False
    skipped: bool = False
    """A short acknowledgement: retrieval was skipped."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptedMessage:
    message_id: str
    extraction: str
    """``queued`` or ``skipped``."""
    job_key: str | None = None
    """Pass to :meth:`wait_for_job` to wait for the memories this turn produces."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    id: int
    job_key: str
    status: str
    attempts: int = 0
    max_attempts: int = 0
    message_id: str | None = None
    conversation_id: str | None = None
    next_retry_at: datetime | None = None
    last_error: str | None = None
    memory_ids: list[int] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_JOB_STATES


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    operation: str
    operator_type: str
    target_type: str
    target_id: str
    created_at: datetime | None = None
    id: int | None = None
    operator_id: str | None = None
    reason: str = ""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    memory_enabled: bool
    implicit_memory_enabled: bool
    sensitive_memory_enabled: bool
    updated_at: datetime | None = None


def memory(data: dict[str, Any]) -> Memory:
    return build(Memory, data)


def memories(data: dict[str, Any]) -> list[Memory]:
    return [memory(item) for item in data["items"]]
