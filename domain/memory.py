"""Memory items: the long-lived facts, preferences and constraints kept about a user.

Rules follow the upstream system (docs/behaviour.md, "Memory items") with two
changes: an item that is deleted cannot be edited (409), and every text path
collapses whitespace the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from memvault.domain.errors import Conflict, InvalidMemoryContent, InvalidMemoryType, InvalidValue
from memvault.domain.metadata import Metadata, require_metadata
from memvault.domain.secrets import refuse_secret
from memvault.domain.text import (
    clamp01,
    collapse_whitespace,
    normalize_content,
    sha256_hex,
    truncate_runes,
)


class MemoryType(StrEnum):
    PREFERENCE = "preference"
    CONSTRAINT = "constraint"
    FACT = "fact"

    @classmethod
    def parse(cls, value: str) -> MemoryType | None:
        """Trimmed, lower-cased; an unknown type is ``None`` (the reference's "drop")."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            return None

    @classmethod
    def require(cls, value: str) -> MemoryType:
        parsed = cls.parse(value)
        if parsed is None:
            allowed = ", ".join(t.value for t in cls)
            raise InvalidMemoryType(
                f"memory_type must be one of {allowed}, not {value!r}", field="memory_type"
            )
        return parsed


class MemoryStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    DELETED = "deleted"


class VectorStatus(StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"
    DELETED = "deleted"


DEFAULT_IMPORTANCE: dict[MemoryType, float] = {
    MemoryType.PREFERENCE: 0.85,
    MemoryType.CONSTRAINT: 0.95,
    MemoryType.FACT: 0.6,
}
"""Importance given to an extracted fact that states none."""

FACT_TTL = timedelta(days=180)
"""Extracted facts expire this long after the message that stated them."""

MAX_EXTRACTED_CONTENT = 1000
MAX_EXTRACTED_TITLE = 64
MAX_CONTENT = 4000
"""Longest content a user may store by hand (characters); longer input is rejected."""
MAX_TITLE = 128
MANUAL_TITLE_FROM_CONTENT = 24
UNTITLED = "未命名记忆"
MAX_SENSITIVITY = 2


def content_hash(memory_type: MemoryType, content: str) -> str:
    """``sha256(type + "::" + normalised content)`` as 64 hex characters."""
    return sha256_hex(f"{memory_type.value}::{normalize_content(content)}")


def clamp_sensitivity(level: int) -> int:
    return min(MAX_SENSITIVITY, max(0, level))


def require_score(name: str, value: float) -> float:
    """Scores are 0..1; the product rejects values outside rather than clamping them."""
    if not 0.0 <= value <= 1.0:
        raise InvalidValue(f"{name} must be between 0 and 1", field=name)
    return value


def require_sensitivity(value: int) -> int:
    if not 0 <= value <= MAX_SENSITIVITY:
        raise InvalidValue("sensitivity_level must be 0, 1 or 2", field="sensitivity_level")
    return value


def manual_content(content: str) -> str:
    """Content typed by a user: trimmed, non-empty, at most ``MAX_CONTENT`` characters."""
    text = content.strip()
    if not text:
        raise InvalidMemoryContent("content must not be empty", field="content")
    if len(text) > MAX_CONTENT:
        raise InvalidMemoryContent(
            f"content must be at most {MAX_CONTENT} characters", field="content"
        )
    return text


def manual_title(title: str | None, content: str) -> str:
    """The given title trimmed; else the first 24 characters of the content."""
    text = collapse_whitespace(title or "")
    if len(text) > MAX_TITLE:
        raise InvalidValue(f"title must be at most {MAX_TITLE} characters", field="title")
    if text:
        return text
    derived = truncate_runes(collapse_whitespace(content), MANUAL_TITLE_FROM_CONTENT)
    return derived or UNTITLED


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Where a memory applies. ``None`` means "every conversation / assistant / run"."""

    conversation_id: str | None = None
    assistant_id: str | None = None
    run_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemChanges:
    """A partial edit (PATCH). ``None`` means "leave unchanged"."""

    memory_type: MemoryType | None = None
    title: str | None = None
    content: str | None = None
    confidence: float | None = None
    importance: float | None = None
    sensitivity_level: int | None = None
    is_explicit: bool | None = None
    ttl_at: datetime | None = None
    clear_ttl: bool = False
    metadata: Metadata | None = None
    """When set, replaces the whole object (``{}`` clears it); validated by the edit."""


@dataclass(slots=True, kw_only=True)
class MemoryItem:
    """One memory of one user. Changed only through the methods below."""

    id: int | None = None
    user_id: str
    scope: Scope = field(default_factory=Scope)
    memory_type: MemoryType
    title: str
    content: str
    normalized_content: str = ""
    content_hash: str = ""
    confidence: float = 0.6
    importance: float = 0.5
    sensitivity_level: int = 0
    source_message_id: str | None = None
    source_event_id: str | None = None
    is_explicit: bool = False
    status: MemoryStatus = MemoryStatus.ACTIVE
    ttl_at: datetime | None = None
    last_access_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    vector_status: VectorStatus = VectorStatus.PENDING
    vector_id: str | None = None
    metadata: Metadata = field(default_factory=dict)
    """Client tags (domain.metadata): flat, validated, filterable."""
    occurred_at: datetime | None = None
    """When the memory was said (the chat turn's time, or given on create); ``None`` on
    rows older than the column: :attr:`said_at` falls back to ``created_at``."""

    def __post_init__(self) -> None:
        # A loaded row carries the hash its last write computed (every change of type or
        # text rehashes below): recomputing it on each load cost a search ~1 ms.
        if not self.content_hash or not self.normalized_content:
            self._rehash()

    @classmethod
    def create_manual(
        cls,
        *,
        user_id: str,
        memory_type: str,
        content: str,
        title: str | None = None,
        scope: Scope | None = None,
        confidence: float | None = None,
        importance: float | None = None,
        sensitivity_level: int | None = None,
        is_explicit: bool | None = None,
        ttl_at: datetime | None = None,
        metadata: Any = None,
        occurred_at: datetime | None = None,
        now: datetime,
    ) -> MemoryItem:
        """A memory a user typed in (defaults: confidence 0.95, importance 0.90, explicit;
        ``occurred_at`` defaults to ``now``)."""
        kind = MemoryType.require(memory_type)
        text = manual_content(content)
        level = require_sensitivity(sensitivity_level or 0)
        refuse_secret(text, title, sensitivity=level, field="content")
        return cls(
            user_id=user_id,
            scope=scope or Scope(),
            memory_type=kind,
            title=manual_title(title, text),
            content=text,
            confidence=require_score("confidence", 0.95 if confidence is None else confidence),
            importance=require_score("importance", 0.90 if importance is None else importance),
            sensitivity_level=level,
            is_explicit=True if is_explicit is None else is_explicit,
            ttl_at=ttl_at,
            metadata=require_metadata(metadata),
            occurred_at=occurred_at or now,
            created_at=now,
            updated_at=now,
        )

    @property
    def said_at(self) -> datetime | None:
        """When it was said: ``occurred_at``, else ``created_at``."""
        return self.occurred_at or self.created_at

    def _rehash(self) -> None:
        self.normalized_content = normalize_content(self.content)
        self.content_hash = content_hash(self.memory_type, self.content)

    def _touch(self, now: datetime) -> None:
        self.updated_at = now
        self.vector_status = VectorStatus.PENDING
        self.vector_id = None

    def is_expired(self, now: datetime) -> bool:
        return self.ttl_at is not None and self.ttl_at <= now

    def is_visible(self, now: datetime) -> bool:
        """Active and unexpired: the only items retrieval may return."""
        return self.status is MemoryStatus.ACTIVE and not self.is_expired(now)

    def edit(self, changes: ItemChanges, *, now: datetime) -> None:
        """Apply a partial edit. A deleted item must be restored before it can be edited."""
        if self.status is MemoryStatus.DELETED:
            raise Conflict("a deleted memory cannot be edited; restore it first")
        # Validate every field before assigning any, so a refused edit changes nothing.
        content = self.content if changes.content is None else manual_content(changes.content)
        title = self.title if changes.title is None else manual_title(changes.title, content)
        confidence = self.confidence
        if changes.confidence is not None:
            confidence = require_score("confidence", changes.confidence)
        importance = self.importance
        if changes.importance is not None:
            importance = require_score("importance", changes.importance)
        sensitivity = self.sensitivity_level
        if changes.sensitivity_level is not None:
            sensitivity = require_sensitivity(changes.sensitivity_level)
        refuse_secret(content, title, sensitivity=sensitivity, field="content")
        metadata = self.metadata
        if changes.metadata is not None:
            metadata = require_metadata(changes.metadata)
        if changes.memory_type is not None:
            self.memory_type = changes.memory_type
        self.metadata = metadata
        self.content = content
        self.title = title
        self.confidence = confidence
        self.importance = importance
        self.sensitivity_level = sensitivity
        if changes.is_explicit is not None:
            self.is_explicit = changes.is_explicit
        if changes.clear_ttl:
            self.ttl_at = None
        elif changes.ttl_at is not None:
            self.ttl_at = changes.ttl_at
        self._rehash()
        self._touch(now)

    def replace_text(
        self, *, title: str, content: str, confidence: float, importance: float, now: datetime
    ) -> None:
        """The decision step's UPDATE: merged text, scores taken from the new fact."""
        if self.status is not MemoryStatus.ACTIVE:
            raise Conflict("only an active memory can be updated by extraction")
        text = truncate_runes(collapse_whitespace(content), MAX_EXTRACTED_CONTENT)
        if not text:
            raise InvalidMemoryContent("merged content must not be empty", field="content")
        self.content = text
        self.title = truncate_runes(collapse_whitespace(title), MAX_EXTRACTED_TITLE) or self.title
        self.confidence = clamp01(confidence)
        self.importance = clamp01(importance)
        self._rehash()
        self._touch(now)

    def delete(self, *, now: datetime) -> bool:
        """Soft delete. Returns ``False`` (and changes nothing) when already deleted."""
        if self.status is MemoryStatus.DELETED:
            return False
        self.status = MemoryStatus.DELETED
        self._touch(now)
        return True

    def archive(self, *, now: datetime) -> bool:
        """Archive an active item (dedup cleanup). Returns ``False`` when not active."""
        if self.status is not MemoryStatus.ACTIVE:
            return False
        self.status = MemoryStatus.ARCHIVED
        self._touch(now)
        return True

    def restore(self, *, now: datetime) -> bool:
        """Back to active. Returns ``False`` (and changes nothing) when already active."""
        if self.status is MemoryStatus.ACTIVE:
            return False
        self.status = MemoryStatus.ACTIVE
        self._touch(now)
        return True

    def copy(self) -> MemoryItem:
        return replace(self, metadata=dict(self.metadata))

    def snapshot(self) -> dict[str, Any]:
        """The audit form of the row: every column, times in ISO 8601."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "user_id": self.user_id,
            "conversation_id": self.scope.conversation_id,
            "assistant_id": self.scope.assistant_id,
            "run_id": self.scope.run_id,
            "memory_type": self.memory_type.value,
            "title": self.title,
            "content": self.content,
            "normalized_content": self.normalized_content,
            "content_hash": self.content_hash,
            "confidence": self.confidence,
            "importance": self.importance,
            "sensitivity_level": self.sensitivity_level,
            "source_message_id": self.source_message_id,
            "source_event_id": self.source_event_id,
            "is_explicit": self.is_explicit,
            "status": self.status.value,
            "ttl_at": iso(self.ttl_at),
            "last_access_at": iso(self.last_access_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "vector_status": self.vector_status.value,
            "vector_id": self.vector_id,
            "metadata": dict(self.metadata),
            "occurred_at": iso(self.occurred_at),
        }
