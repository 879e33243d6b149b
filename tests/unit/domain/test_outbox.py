"""Outbox rows (docs/behaviour.md, "Ingestion and the outbox"): n² backoff back to pending,
dead at max_retry, replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memvault.domain.errors import InvalidTransition
from memvault.domain.outbox import OutboxMessage, OutboxStatus
from memvault.domain.retry import QuadraticBackoff, TransientBackoff

NOW = datetime(2025, 1, 1, tzinfo=UTC)
BACKOFF = QuadraticBackoff()


def message(**overrides: Any) -> OutboxMessage:
    fields: dict[str, Any] = {
        "event_type": "memory.extract.requested",
        "topic": "memvault.events",
        "message_key": "conv-1",
        "payload": "{}",
        "next_retry_at": NOW,
    }
    fields.update(overrides)
    return OutboxMessage(**fields)


def test_a_new_outbox_row_is_pending_with_twenty_retries() -> None:
    row = message()
    assert row.status is OutboxStatus.PENDING
    assert row.retry_count == 0
    assert row.max_retry == 20
    assert row.service_name == "memory"


@pytest.mark.parametrize("status", [OutboxStatus.PENDING, OutboxStatus.PUBLISHED])
def test_a_failed_delivery_goes_back_to_pending_after_one_second(status: OutboxStatus) -> None:
    row = message(status=status)
    row.fail("broker down", now=NOW, backoff=BACKOFF)
    assert row.status is OutboxStatus.PENDING
    assert row.retry_count == 1
    assert row.next_retry_at == NOW + timedelta(seconds=1)
    assert row.last_error == "broker down"
    assert row.updated_at == NOW


def test_outbox_backoff_grows_with_the_square_of_the_attempt_and_stops_at_100_seconds() -> None:
    row = message()
    delays = []
    for _ in range(19):
        row.fail("broker down", now=NOW, backoff=BACKOFF)
        assert row.next_retry_at is not None
        delays.append((row.next_retry_at - NOW).total_seconds())
    assert delays == [1, 4, 9, 16, 25, 36, 49, 64, 81] + [100] * 10
    assert row.status is OutboxStatus.PENDING


def test_an_outbox_row_is_dead_at_its_twentieth_failure() -> None:
    row = message(retry_count=19)
    row.fail("broker down", now=NOW, backoff=BACKOFF)
    assert row.status is OutboxStatus.DEAD
    assert row.retry_count == 20
    assert row.next_retry_at is None
    assert row.last_error == "broker down"


def test_an_outbox_row_honours_its_own_max_retry() -> None:
    row = message(max_retry=3)
    statuses = []
    for _ in range(3):
        row.fail("broker down", now=NOW, backoff=BACKOFF)
        statuses.append(row.status)
    assert statuses == [OutboxStatus.PENDING, OutboxStatus.PENDING, OutboxStatus.DEAD]


def test_outbox_last_error_is_cut_to_2000_utf8_bytes() -> None:
    row = message()
    row.fail("错" * 1000, now=NOW, backoff=BACKOFF)
    assert row.last_error == "错" * 666
    assert len(row.last_error.encode("utf-8")) == 1998


@pytest.mark.parametrize("status", [OutboxStatus.CONSUMED, OutboxStatus.DEAD])
def test_a_consumed_or_dead_row_ignores_a_failure(status: OutboxStatus) -> None:
    row = message(status=status, retry_count=2, last_error="old")
    row.fail("late failure", now=NOW, backoff=BACKOFF)
    assert row.status is status
    assert row.retry_count == 2
    assert row.last_error == "old"
    assert row.next_retry_at == NOW
    assert row.updated_at is None


def test_replaying_a_dead_row_makes_it_pending_now_with_a_fresh_budget() -> None:
    row = message(status=OutboxStatus.DEAD, retry_count=20, next_retry_at=None)
    later = NOW + timedelta(hours=1)
    row.replay(now=later)
    assert row.status is OutboxStatus.PENDING
    assert row.retry_count == 0
    assert row.next_retry_at == later
    assert row.updated_at == later


@pytest.mark.parametrize(
    "status", [OutboxStatus.PENDING, OutboxStatus.PUBLISHED, OutboxStatus.CONSUMED]
)
def test_only_a_dead_row_can_be_replayed(status: OutboxStatus) -> None:
    row = message(status=status, retry_count=3)
    with pytest.raises(InvalidTransition):
        row.replay(now=NOW)
    assert row.status is status
    assert row.retry_count == 3


def test_an_outbox_row_without_a_positive_max_retry_gets_the_default_twenty() -> None:
    row = message(max_retry=0)
    backoff = QuadraticBackoff()
    for _ in range(19):
        row.fail("down", now=NOW, backoff=backoff)
        assert row.status is OutboxStatus.PENDING
    row.fail("down", now=NOW, backoff=backoff)
    assert row.status is OutboxStatus.DEAD


def test_a_buried_row_is_dead_with_its_reason_and_never_due() -> None:
    row = message(status=OutboxStatus.PUBLISHED)
    row.bury("refused by the consumer: conversation_id is blank", now=NOW)
    assert row.status is OutboxStatus.DEAD
    assert row.last_error == "refused by the consumer: conversation_id is blank"
    assert row.next_retry_at is None


def test_burying_leaves_a_consumed_row_consumed() -> None:
    row = message(status=OutboxStatus.CONSUMED)
    row.bury("late refusal", now=NOW)
    assert row.status is OutboxStatus.CONSUMED
    assert row.last_error is None


def test_a_bus_outage_of_hours_leaves_the_row_pending_and_uncounted() -> None:
    backoff = TransientBackoff(cap_seconds=100, horizon_seconds=86_400)
    row = message(created_at=NOW - timedelta(hours=5))
    row.defer("publish failed: connection refused", now=NOW, backoff=backoff, jitter=1.0)
    assert (row.status, row.retry_count) == (OutboxStatus.PENDING, 0)
    assert row.next_retry_at == NOW + timedelta(seconds=100)


def test_a_bus_outage_past_the_horizon_makes_the_row_dead() -> None:
    backoff = TransientBackoff(horizon_seconds=3600)
    row = message(created_at=NOW - timedelta(hours=2))
    row.defer("publish failed", now=NOW, backoff=backoff, jitter=0.0)
    assert row.status is OutboxStatus.DEAD
    assert "retry horizon" in (row.last_error or "")
