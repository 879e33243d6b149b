"""Audit entries and operator normalisation."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from memvault.domain.audit import AuditEntry, AuditOperation, AuditTarget, OperatorType

NOW = datetime(2025, 1, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("system", OperatorType.SYSTEM),
        ("SYSTEM", OperatorType.SYSTEM),
        ("  System ", OperatorType.SYSTEM),
        ("admin", OperatorType.ADMIN),
        ("Admin", OperatorType.ADMIN),
        ("user", OperatorType.USER),
        ("", OperatorType.USER),
        ("   ", OperatorType.USER),
        (None, OperatorType.USER),
        ("root", OperatorType.USER),
        ("systemd", OperatorType.USER),
    ],
)
def test_operator_type_keeps_system_and_admin_and_makes_anything_else_user(
    raw: str | None, expected: OperatorType
) -> None:
    assert OperatorType.parse(raw) is expected


def record(**overrides: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "target_type": AuditTarget.MEMORY_ITEM,
        "target_id": 7,
        "user_id": "u1",
        "operation": AuditOperation.DELETE,
        "operator_type": OperatorType.USER,
        "reason": None,
        "default_reason": "用户删除记忆",
        "before": {"status": "active"},
        "after": {"status": "deleted"},
        "now": NOW,
    }
    fields.update(overrides)
    return AuditEntry.record(**fields)


def test_audit_entry_keeps_what_changed_who_changed_it_and_when() -> None:
    entry = record(operator_id="u1")
    assert entry.target_type is AuditTarget.MEMORY_ITEM
    assert entry.target_id == "7"
    assert entry.user_id == "u1"
    assert entry.operation is AuditOperation.DELETE
    assert entry.operator_type is OperatorType.USER
    assert entry.operator_id == "u1"
    assert entry.before == {"status": "active"}
    assert entry.after == {"status": "deleted"}
    assert entry.created_at == NOW
    assert entry.id is None


@pytest.mark.parametrize("reason", [None, "", "   ", "\n\t"])
def test_audit_entry_uses_the_default_reason_when_none_is_given(reason: str | None) -> None:
    assert record(reason=reason).reason == "用户删除记忆"


def test_audit_entry_keeps_a_given_reason_trimmed() -> None:
    assert record(reason="  duplicate of #3 ").reason == "duplicate of #3"


@pytest.mark.parametrize(("length", "kept"), [(254, 254), (255, 255), (256, 255), (1000, 255)])
def test_audit_reason_is_cut_to_255_characters(length: int, kept: int) -> None:
    reason = "理" * length
    assert record(reason=reason).reason == "理" * kept


def test_a_long_default_reason_is_cut_to_255_characters_too() -> None:
    assert record(reason=None, default_reason="x" * 300).reason == "x" * 255


def test_audit_entry_cannot_be_changed_after_it_is_recorded() -> None:
    entry = record()
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.reason = "rewritten"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("target", "default"),
    [
        (AuditTarget.JOB, "operator retried the job"),
        (AuditTarget.OUTBOX, "operator retried the outbox row"),
    ],
)
def test_an_operator_retry_is_audited_with_status_and_retry_count_before_and_after(
    target: AuditTarget, default: str
) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    entry = AuditEntry.operator_retried(
        target_type=target,
        target_id=7,
        user_id="u-1",
        operator_id="cli",
        reason=None,
        before=("dead", 6),
        after=("pending", 0),
        now=now,
    )
    assert (entry.target_type, entry.target_id, entry.user_id) == (target, "7", "u-1")
    assert (entry.operation, entry.operator_type, entry.operator_id) == (
        AuditOperation.RETRY,
        OperatorType.ADMIN,
        "cli",
    )
    assert entry.reason == default
    assert entry.before == {"status": "dead", "retry_count": 6}
    assert entry.after == {"status": "pending", "retry_count": 0}
    assert entry.created_at == now
