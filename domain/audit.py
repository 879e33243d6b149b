"""Audit entries: who changed what, why, with the record before and after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from memvault.domain.text import truncate_runes

MAX_REASON = 255


class AuditOperation(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    ARCHIVE = "archive"
    DELETE = "delete"
    RESTORE = "restore"
    RETRY = "retry"


class OperatorType(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ADMIN = "admin"
    SERVICE = "service"
    """A backend acting for the user with a ``service`` API key (named in ``operator_id``)."""

    @classmethod
    def parse(cls, value: str | None) -> OperatorType:
        """``system``, ``admin`` and ``service`` (any case) are kept; anything else is
        ``user``."""
        text = (value or "").strip().lower()
        return cls(text) if text in (cls.SYSTEM, cls.ADMIN, cls.SERVICE) else cls.USER


@dataclass(frozen=True, slots=True, kw_only=True)
class Operator:
    """Who makes a change: the user themselves (``id`` their user id), or an API key
    acting for them (``id`` the key's name)."""

    type: OperatorType
    id: str | None = None

    @classmethod
    def user(cls, user_id: str) -> Operator:
        return cls(type=OperatorType.USER, id=user_id)


class AuditTarget(StrEnum):
    MEMORY_ITEM = "memory_item"
    JOB = "job"
    OUTBOX = "outbox"
    SETTINGS = "settings"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One audited change. ``reason`` is cut to 255 characters."""

    id: int | None = None
    target_type: AuditTarget
    target_id: str
    user_id: str
    operation: AuditOperation
    operator_type: OperatorType
    operator_id: str | None = None
    reason: str = ""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    created_at: datetime

    @classmethod
    def record(
        cls,
        *,
        target_type: AuditTarget,
        target_id: str | int,
        user_id: str,
        operation: AuditOperation,
        operator_type: OperatorType,
        reason: str | None,
        default_reason: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        now: datetime,
        operator_id: str | None = None,
    ) -> AuditEntry:
        text = (reason or "").strip() or default_reason
        return cls(
            target_type=target_type,
            target_id=str(target_id),
            user_id=user_id,
            operation=operation,
            operator_type=operator_type,
            operator_id=operator_id,
            reason=truncate_runes(text, MAX_REASON),
            before=before,
            after=after,
            created_at=now,
        )

    @classmethod
    def operator_retried(
        cls,
        *,
        target_type: AuditTarget,
        target_id: int,
        user_id: str,
        operator_id: str | None,
        reason: str | None,
        before: tuple[str, int],
        after: tuple[str, int],
        now: datetime,
    ) -> AuditEntry:
        """An operator sent a job or an outbox row again; ``before`` and ``after`` are its
        (status, retry count)."""
        noun = "outbox row" if target_type is AuditTarget.OUTBOX else target_type.value
        return cls.record(
            target_type=target_type,
            target_id=target_id,
            user_id=user_id,
            operation=AuditOperation.RETRY,
            operator_type=OperatorType.ADMIN,
            operator_id=operator_id,
            reason=reason,
            default_reason=f"operator retried the {noun}",
            before={"status": before[0], "retry_count": before[1]},
            after={"status": after[0], "retry_count": after[1]},
            now=now,
        )
