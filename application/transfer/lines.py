"""The export file: one JSON object per line, one memory per object (JSON Lines).

Every line is self-contained and carries ``"format": "memvault.memory"`` and
``"version": 1``, so files can be concatenated, split and streamed. Version 1 fields
(docs/export-import.md describes them): ``id``, ``user_id``, ``memory_type``, ``title``,
``content``, ``confidence``, ``importance``, ``sensitivity_level``, ``is_explicit``,
``status``, ``scope`` (``conversation_id``, ``assistant_id``, ``run_id``),
``source_message_id``, ``source_event_id``, ``ttl_at``, ``last_access_at``,
``created_at``, ``updated_at`` (ISO 8601 with a zone), and optionally ``history`` (the
item's audit entries, oldest first). Version 2 (written now) adds ``metadata`` (the
item's metadata object) and ``occurred_at`` (when it was said); a version 1 line reads
as an item without metadata that was said when it was created. A reader refuses
versions it does not know rather than dropping what it cannot read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from memvault.domain.audit import AuditEntry, AuditOperation, AuditTarget, OperatorType
from memvault.domain.errors import DomainError, InvalidValue
from memvault.domain.memory import (
    MAX_CONTENT,
    MAX_SENSITIVITY,
    MAX_TITLE,
    MemoryItem,
    MemoryStatus,
    MemoryType,
    Scope,
    VectorStatus,
)
from memvault.domain.metadata import Metadata, require_metadata
from memvault.domain.secrets import SecretRefused, refuse_secret

FORMAT = "memvault.memory"
VERSION = 2
READABLE = frozenset({1, 2})
V2_FIELDS = frozenset({"metadata", "occurred_at"})
MAX_ID_LENGTH = 128
ITEM_FIELDS = frozenset(
    {
        "format",
        "version",
        "id",
        "user_id",
        "memory_type",
        "title",
        "content",
        "confidence",
        "importance",
        "sensitivity_level",
        "is_explicit",
        "status",
        "scope",
        "source_message_id",
        "source_event_id",
        "ttl_at",
        "last_access_at",
        "created_at",
        "updated_at",
        "history",
        *V2_FIELDS,
    }
)
SCOPE_FIELDS = ("conversation_id", "assistant_id", "run_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportedMemory:
    """One memory as it travels between installations, with its audit history."""

    item: MemoryItem
    history: list[AuditEntry] | None = None


class BadLine(InvalidValue):
    """One line of an import file is not a valid memory."""


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _entry(entry: AuditEntry) -> dict[str, Any]:
    return {
        "operation": entry.operation.value,
        "operator_type": entry.operator_type.value,
        "operator_id": entry.operator_id,
        "reason": entry.reason,
        "before": entry.before,
        "after": entry.after,
        "created_at": _time(entry.created_at),
    }


def encode(memory: ExportedMemory) -> str:
    """The memory as one line of JSON (no trailing newline)."""
    item = memory.item
    line: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "id": item.id,
        "user_id": item.user_id,
        "memory_type": item.memory_type.value,
        "title": item.title,
        "content": item.content,
        "confidence": item.confidence,
        "importance": item.importance,
        "sensitivity_level": item.sensitivity_level,
        "is_explicit": item.is_explicit,
        "status": item.status.value,
        "scope": {name: getattr(item.scope, name) for name in SCOPE_FIELDS},
        "source_message_id": item.source_message_id,
        "source_event_id": item.source_event_id,
        "ttl_at": _time(item.ttl_at),
        "last_access_at": _time(item.last_access_at),
        "created_at": _time(item.created_at),
        "updated_at": _time(item.updated_at),
        "occurred_at": _time(item.occurred_at),
        "metadata": dict(item.metadata),
    }
    if memory.history is not None:
        line["history"] = [_entry(entry) for entry in memory.history]
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


class _Reader:
    """Typed access to one decoded line; every failure names the field."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def raw(self, name: str, kinds: tuple[type, ...], *, required: bool) -> Any:
        value = self._data.get(name)
        if value is None:
            if required:
                raise BadLine(f"{name} is required", field=name)
            return None
        if isinstance(value, bool) and bool not in kinds:
            raise BadLine(f"{name} has the wrong type", field=name)
        if not isinstance(value, kinds):
            raise BadLine(f"{name} has the wrong type", field=name)
        return value

    def text(self, name: str, *, required: bool = False, limit: int = MAX_ID_LENGTH) -> Any:
        value = self.raw(name, (str,), required=required)
        if value is not None and not (1 if required else 0) <= len(value) <= limit:
            raise BadLine(f"{name} must have 1 to {limit} characters", field=name)
        return value

    def score(self, name: str) -> float:
        value = float(self.raw(name, (int, float), required=True))
        if not 0.0 <= value <= 1.0:
            raise BadLine(f"{name} must be between 0 and 1", field=name)
        return value

    def time(self, name: str, *, required: bool = False) -> datetime | None:
        value = self.raw(name, (str,), required=required)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as error:
            raise BadLine(f"{name} is not an ISO 8601 time", field=name) from error
        if parsed.tzinfo is None:
            raise BadLine(f"{name} must carry a time zone", field=name)
        return parsed.astimezone(UTC)


def _history(raw: Any, user_id: str) -> list[AuditEntry] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise BadLine("history must be a list", field="history")
    entries = []
    for number, value in enumerate(raw):
        if not isinstance(value, dict):
            raise BadLine(f"history[{number}] must be an object", field="history")
        read = _Reader(value)
        try:
            entries.append(
                AuditEntry(
                    target_type=AuditTarget.MEMORY_ITEM,
                    target_id="",
                    user_id=user_id,
                    operation=AuditOperation(read.text("operation", required=True)),
                    operator_type=OperatorType(read.text("operator_type", required=True)),
                    operator_id=read.text("operator_id"),
                    reason=read.text("reason", limit=255) or "",
                    before=read.raw("before", (dict,), required=False),
                    after=read.raw("after", (dict,), required=False),
                    created_at=read.time("created_at", required=True) or datetime.now(UTC),
                )
            )
        except (ValueError, DomainError) as error:
            raise BadLine(f"history[{number}]: {error}", field="history") from error
    return entries


def _metadata(raw: Any) -> Metadata:
    try:
        return require_metadata(raw, field="metadata")
    except InvalidValue as error:
        raise BadLine(error.detail, field="metadata") from error


def decode(line: str) -> ExportedMemory:
    """Parse and validate one line; :class:`BadLine` says what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise BadLine(f"not JSON ({error.msg})") from error
    if not isinstance(data, dict):
        raise BadLine("not a JSON object")
    if data.get("format") != FORMAT:
        raise BadLine(f"format must be {FORMAT!r}", field="format")
    version = data.get("version")
    if isinstance(version, bool) or version not in READABLE:
        readable = ", ".join(str(v) for v in sorted(READABLE))
        raise BadLine(
            f"version {version!r} is not supported (this memvault reads {readable})",
            field="version",
        )
    allowed = ITEM_FIELDS if version == VERSION else ITEM_FIELDS - V2_FIELDS
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadLine(f"unknown field {unknown[0]!r}", field=unknown[0])
    read = _Reader(data)
    scope = data.get("scope") or {}
    if not isinstance(scope, dict) or set(scope) - set(SCOPE_FIELDS):
        raise BadLine("scope must be an object of " + ", ".join(SCOPE_FIELDS), field="scope")
    scope_read = _Reader(scope)
    user_id = read.text("user_id", required=True)
    item_id = read.raw("id", (int,), required=False)
    if item_id is not None and item_id < 1:
        raise BadLine("id must be a positive integer", field="id")
    sensitivity = read.raw("sensitivity_level", (int,), required=True)
    if not 0 <= sensitivity <= MAX_SENSITIVITY:
        raise BadLine("sensitivity_level must be 0, 1 or 2", field="sensitivity_level")
    try:
        status = MemoryStatus(read.text("status", required=True))
    except ValueError as error:
        raise BadLine("status must be active, archived or deleted", field="status") from error
    content = read.text("content", required=True, limit=MAX_CONTENT)
    if not content.strip():
        raise BadLine("content must not be blank", field="content")
    try:  # secrets are never stored, whichever file brings them
        refuse_secret(content, sensitivity=sensitivity, field="content")
    except SecretRefused as error:
        raise BadLine(error.detail, field="content") from error
    item = MemoryItem(
        id=item_id,
        user_id=user_id,
        scope=Scope(**{name: scope_read.text(name) for name in SCOPE_FIELDS}),
        memory_type=MemoryType.require(read.text("memory_type", required=True)),
        title=read.text("title", required=True, limit=MAX_TITLE),
        content=content,
        confidence=read.score("confidence"),
        importance=read.score("importance"),
        sensitivity_level=sensitivity,
        source_message_id=read.text("source_message_id"),
        source_event_id=read.text("source_event_id"),
        is_explicit=read.raw("is_explicit", (bool,), required=True),
        status=status,
        ttl_at=read.time("ttl_at"),
        last_access_at=read.time("last_access_at"),
        created_at=read.time("created_at", required=True),
        updated_at=read.time("updated_at", required=True),
        vector_status=VectorStatus.PENDING,
        metadata=_metadata(data.get("metadata")),
        occurred_at=read.time("occurred_at"),
    )
    return ExportedMemory(item=item, history=_history(data.get("history"), user_id))
