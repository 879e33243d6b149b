"""Extraction jobs (docs/behaviour.md, "Extraction jobs": the lease, rescue and replay)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memvault.domain.errors import InvalidTransition
from memvault.domain.jobs import ExtractionJob, JobStatus, JobType, Lease
from memvault.domain.retry import ExponentialBackoff, TransientBackoff

NOW = datetime(2025, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=30)
BACKOFF = ExponentialBackoff()
HELD = Lease(owner="w1", token="t1")


def job(**overrides: Any) -> ExtractionJob:
    fields: dict[str, Any] = {
        "user_id": "u1",
        "idempotency_key": "memory_extract_abc",
        "payload_json": "{}",
        "next_retry_at": NOW,
    }
    fields.update(overrides)
    return ExtractionJob(**fields)


def processing_job(**overrides: Any) -> ExtractionJob:
    claimed = job(**overrides)
    claimed.claim(worker="w1", now=NOW, lease=LEASE, token="t1")
    return claimed


def test_a_new_job_is_a_pending_extract_job_with_six_attempts() -> None:
    new = job()
    assert new.status is JobStatus.PENDING
    assert new.job_type is JobType.EXTRACT
    assert new.retry_count == 0
    assert new.max_retry == 6
    assert new.memory_ids == ()


@pytest.mark.parametrize(
    ("status", "claimable"),
    [
        (JobStatus.PENDING, True),
        (JobStatus.FAILED, True),
        (JobStatus.PROCESSING, False),
        (JobStatus.SUCCESS, False),
        (JobStatus.DEAD, False),
    ],
)
def test_only_pending_and_failed_jobs_are_claimable(status: JobStatus, claimable: bool) -> None:
    assert status.claimable is claimable
    assert job(status=status).is_due(NOW) is claimable


@pytest.mark.parametrize(
    ("next_retry_at", "due"),
    [(None, True), (NOW - timedelta(seconds=1), True), (NOW, True), (NOW + timedelta(1), False)],
)
def test_a_claimable_job_is_due_once_its_retry_time_has_come(
    next_retry_at: datetime | None, due: bool
) -> None:
    assert job(next_retry_at=next_retry_at).is_due(NOW) is due


@pytest.mark.parametrize("status", [JobStatus.PENDING, JobStatus.FAILED])
def test_claiming_a_due_job_makes_it_processing_under_a_lease(status: JobStatus) -> None:
    claimed = job(status=status)
    claimed.claim(worker="w1", now=NOW, lease=LEASE, token="t1")
    assert claimed.status is JobStatus.PROCESSING
    assert claimed.locked_by == "w1"
    assert claimed.locked_until == NOW + LEASE
    assert claimed.updated_at == NOW


@pytest.mark.parametrize("status", [JobStatus.PENDING, JobStatus.FAILED])
def test_a_job_cannot_be_claimed_before_its_retry_time(status: JobStatus) -> None:
    waiting = job(status=status, next_retry_at=NOW + timedelta(seconds=4))
    with pytest.raises(InvalidTransition):
        waiting.claim(worker="w1", now=NOW, lease=LEASE, token="t1")
    assert waiting.status is status
    assert waiting.locked_by is None


def test_a_successful_job_releases_its_lease_clears_its_error_and_keeps_its_memories() -> None:
    running = processing_job(last_error="earlier failure", retry_count=2)
    later = NOW + timedelta(seconds=5)
    running.succeed(memory_ids=(3, 9), now=later)
    assert running.status is JobStatus.SUCCESS
    assert running.memory_ids == (3, 9)
    assert running.last_error is None
    assert running.next_retry_at is None
    assert running.locked_by is None
    assert running.locked_until is None
    assert running.updated_at == later
    assert running.retry_count == 2


def test_a_failed_attempt_schedules_a_retry_after_one_second() -> None:
    running = processing_job()
    running.fail("llm timeout", now=NOW, backoff=BACKOFF)
    assert running.status is JobStatus.FAILED
    assert running.retry_count == 1
    assert running.next_retry_at == NOW + timedelta(seconds=1)
    assert running.last_error == "llm timeout"
    assert running.locked_by is None
    assert running.locked_until is None
    assert running.updated_at == NOW


def test_job_retries_back_off_1_2_4_8_16_seconds_and_the_sixth_failure_is_dead() -> None:
    attempt_job = job()
    delays: list[float | None] = []
    statuses: list[JobStatus] = []
    for _ in range(6):
        now = attempt_job.next_retry_at or NOW
        attempt_job.claim(worker="w1", now=now, lease=LEASE, token="t1")
        attempt_job.fail("llm timeout", now=now, backoff=BACKOFF)
        statuses.append(attempt_job.status)
        retry_at = attempt_job.next_retry_at
        delays.append(None if retry_at is None else (retry_at - now).total_seconds())
    assert delays == [1, 2, 4, 8, 16, None]
    assert statuses == [JobStatus.FAILED] * 5 + [JobStatus.DEAD]
    assert attempt_job.retry_count == 6


@given(max_retry=st.integers(min_value=1, max_value=12), failures=st.integers(1, 12))
def test_retry_count_counts_failures_and_the_job_dies_at_max_retry(
    max_retry: int, failures: int
) -> None:
    attempt_job = job(max_retry=max_retry)
    for _ in range(failures):
        if attempt_job.status is JobStatus.DEAD:
            break
        attempt_job.claim(
            worker="w1", now=attempt_job.next_retry_at or NOW, lease=LEASE, token="t1"
        )
        attempt_job.fail("boom", now=NOW, backoff=BACKOFF)
    assert attempt_job.retry_count == min(failures, max_retry)
    expected = JobStatus.DEAD if failures >= max_retry else JobStatus.FAILED
    assert attempt_job.status is expected


def test_job_last_error_is_cut_to_2000_utf8_bytes_without_splitting_a_character() -> None:
    running = processing_job()
    reason = "a" + "我" * 700  # 2101 bytes; byte 2000 falls inside a character
    running.fail(reason, now=NOW, backoff=BACKOFF)
    assert running.last_error == "a" + "我" * 666
    assert len(running.last_error.encode("utf-8")) == 1999


def test_a_short_error_is_kept_whole() -> None:
    running = processing_job()
    running.fail("x" * 2000, now=NOW, backoff=BACKOFF)
    assert running.last_error == "x" * 2000


@pytest.mark.parametrize("status", [JobStatus.PENDING, JobStatus.FAILED])
def test_killing_a_waiting_job_makes_it_dead_at_once(status: JobStatus) -> None:
    doomed = job(status=status, retry_count=1)
    doomed.kill("unparseable payload", now=NOW)
    assert doomed.status is JobStatus.DEAD
    assert doomed.retry_count == 2
    assert doomed.last_error == "unparseable payload"
    assert doomed.next_retry_at is None
    assert doomed.updated_at == NOW


def test_killing_a_running_job_makes_it_dead_and_releases_its_lease() -> None:
    running = processing_job()
    running.kill("unparseable payload", now=NOW)
    assert running.status is JobStatus.DEAD
    assert running.retry_count == 1
    assert running.locked_by is None
    assert running.locked_until is None


def test_the_lease_holder_can_renew_its_lease() -> None:
    running = processing_job()
    later = NOW + timedelta(seconds=20)
    running.renew_lease(HELD, now=later, lease=LEASE)
    assert running.locked_until == later + LEASE
    assert running.lease == HELD


@pytest.mark.parametrize(
    "other", [Lease(owner="w2", token="t1"), Lease(owner="w1", token="an-older-claim")]
)
def test_another_worker_or_another_claim_of_the_same_worker_cannot_renew_the_lease(
    other: Lease,
) -> None:
    running = processing_job()
    with pytest.raises(InvalidTransition):
        running.renew_lease(other, now=NOW, lease=timedelta(hours=1))
    assert running.locked_until == NOW + LEASE


def test_a_claim_holds_a_lease_with_its_token_and_ending_the_job_gives_it_up() -> None:
    running = processing_job()
    assert running.lease == HELD
    running.succeed(memory_ids=(), now=NOW)
    assert (running.lease, running.lease_token, running.locked_by) == (None, None, None)


def test_a_failed_attempt_is_enqueued_for_its_retry_time() -> None:
    running = processing_job()
    running.fail("boom", now=NOW, backoff=BACKOFF)
    assert running.enqueued_at == running.next_retry_at == NOW + timedelta(seconds=1)


def test_a_parked_job_has_no_message_on_its_way() -> None:
    waiting = job(enqueued_at=NOW)
    waiting.park()
    assert waiting.enqueued_at is None
    assert waiting.status is JobStatus.PENDING


@pytest.mark.parametrize("status", [JobStatus.PROCESSING, JobStatus.SUCCESS, JobStatus.DEAD])
def test_only_a_waiting_job_can_be_parked(status: JobStatus) -> None:
    with pytest.raises(InvalidTransition):
        job(status=status, enqueued_at=NOW).park()


def test_a_released_job_is_pending_and_due_at_once_without_counting_an_attempt() -> None:
    running = processing_job(retry_count=2, enqueued_at=NOW)
    later = NOW + timedelta(seconds=5)
    running.release(now=later)
    assert (running.status, running.retry_count) == (JobStatus.PENDING, 2)
    assert running.is_due(later)
    assert (running.lease, running.enqueued_at) == (None, None)


@pytest.mark.parametrize(
    ("now", "expired"),
    [(NOW + LEASE - timedelta(seconds=1), False), (NOW + LEASE, True), (NOW + LEASE * 2, True)],
)
def test_a_lease_expires_at_its_locked_until_time(now: datetime, expired: bool) -> None:
    assert processing_job().lease_expired(now) is expired


@pytest.mark.parametrize("status", [JobStatus.PENDING, JobStatus.FAILED, JobStatus.SUCCESS])
def test_only_a_processing_job_has_an_expirable_lease(status: JobStatus) -> None:
    idle = job(status=status, locked_until=NOW - timedelta(hours=1))
    assert idle.lease_expired(NOW) is False


def test_rescuing_an_expired_job_counts_the_attempt_and_schedules_a_retry() -> None:
    running = processing_job(retry_count=1)
    later = NOW + LEASE
    running.rescue(now=later, backoff=BACKOFF)
    assert running.status is JobStatus.FAILED
    assert running.retry_count == 2
    assert running.next_retry_at == later + timedelta(seconds=2)
    assert running.last_error is not None
    assert "lease expired" in running.last_error
    assert "w1" in running.last_error
    assert running.locked_by is None
    assert running.locked_until is None


def test_rescuing_a_job_on_its_last_attempt_makes_it_dead() -> None:
    running = processing_job(retry_count=5)
    running.rescue(now=NOW + LEASE, backoff=BACKOFF)
    assert running.status is JobStatus.DEAD
    assert running.retry_count == 6
    assert running.next_retry_at is None


def test_a_job_whose_lease_is_still_valid_cannot_be_rescued() -> None:
    running = processing_job()
    with pytest.raises(InvalidTransition):
        running.rescue(now=NOW + LEASE - timedelta(seconds=1), backoff=BACKOFF)
    assert running.status is JobStatus.PROCESSING
    assert running.retry_count == 0
    assert running.locked_by == "w1"


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.DEAD])
def test_replaying_a_failed_or_dead_job_makes_it_pending_now_with_a_fresh_budget(
    status: JobStatus,
) -> None:
    stopped = job(status=status, retry_count=6, next_retry_at=None, last_error="boom")
    later = NOW + timedelta(days=1)
    stopped.replay(now=later)
    assert stopped.status is JobStatus.PENDING
    assert stopped.retry_count == 0
    assert stopped.next_retry_at == later
    assert stopped.updated_at == later
    assert stopped.is_due(later)


Transition = Callable[[ExtractionJob], None]

TRANSITIONS: dict[str, tuple[Transition, set[JobStatus], JobStatus]] = {
    "claim": (
        lambda j: j.claim(worker="w1", now=NOW, lease=LEASE, token="t1"),
        {JobStatus.PENDING, JobStatus.FAILED},
        JobStatus.PROCESSING,
    ),
    "renew_lease": (
        lambda j: j.renew_lease(HELD, now=NOW, lease=LEASE),
        {JobStatus.PROCESSING},
        JobStatus.PROCESSING,
    ),
    "succeed": (
        lambda j: j.succeed(memory_ids=(1,), now=NOW),
        {JobStatus.PROCESSING},
        JobStatus.SUCCESS,
    ),
    "fail": (
        lambda j: j.fail("boom", now=NOW, backoff=BACKOFF),
        {JobStatus.PROCESSING},
        JobStatus.FAILED,
    ),
    "kill": (
        lambda j: j.kill("boom", now=NOW),
        {JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.FAILED},
        JobStatus.DEAD,
    ),
    "rescue": (
        lambda j: j.rescue(now=NOW + LEASE, backoff=BACKOFF),
        {JobStatus.PROCESSING},
        JobStatus.FAILED,
    ),
    "release": (
        lambda j: j.release(now=NOW),
        {JobStatus.PROCESSING},
        JobStatus.PENDING,
    ),
    "replay": (
        lambda j: j.replay(now=NOW),
        {JobStatus.FAILED, JobStatus.DEAD},
        JobStatus.PENDING,
    ),
}

ILLEGAL = [
    pytest.param(name, status, id=f"{name}-from-{status.value}")
    for name, (_, allowed, _end) in TRANSITIONS.items()
    for status in JobStatus
    if status not in allowed
]

LEGAL = [
    pytest.param(name, status, id=f"{name}-from-{status.value}")
    for name, (_, allowed, _end) in TRANSITIONS.items()
    for status in sorted(allowed, key=lambda s: s.value)
]


def job_in(status: JobStatus) -> ExtractionJob:
    """A job in ``status`` as the state machine leaves it (a lease only while processing)."""
    if status is JobStatus.PROCESSING:
        return job(status=status, locked_by="w1", lease_token="t1", locked_until=NOW)
    return job(status=status)


@pytest.mark.parametrize(("action", "status"), ILLEGAL)
def test_an_illegal_job_transition_is_refused_and_changes_nothing(
    action: str, status: JobStatus
) -> None:
    subject = job_in(status)
    before = (subject.status, subject.retry_count, subject.locked_by, subject.updated_at)
    with pytest.raises(InvalidTransition):
        TRANSITIONS[action][0](subject)
    assert (subject.status, subject.retry_count, subject.locked_by, subject.updated_at) == before


@pytest.mark.parametrize(("action", "status"), LEGAL)
def test_every_legal_job_transition_reaches_its_target_status(
    action: str, status: JobStatus
) -> None:
    transition, _, end = TRANSITIONS[action]
    subject = job_in(status)
    transition(subject)
    assert subject.status is end


@pytest.mark.parametrize("max_retry", [0, -3])
def test_a_job_without_a_positive_max_retry_gets_the_default_six(max_retry: int) -> None:
    failing = processing_job(max_retry=max_retry)
    for attempt in range(1, 6):
        failing.fail("boom", now=NOW, backoff=BACKOFF)
        assert failing.status is JobStatus.FAILED, attempt
        failing.next_retry_at = NOW
        failing.claim(worker="w1", now=NOW, lease=LEASE, token="t1")
    failing.fail("boom", now=NOW, backoff=BACKOFF)
    assert failing.status is JobStatus.DEAD


def test_a_reason_with_a_lone_surrogate_still_fails_the_job() -> None:
    failing = processing_job()
    failing.fail("bad \udcff bytes", now=NOW, backoff=BACKOFF)
    assert failing.status is JobStatus.FAILED
    assert failing.last_error is not None
    assert "bad" in failing.last_error


TRANSIENT = TransientBackoff(base_seconds=1, cap_seconds=300, horizon_seconds=86_400)


def test_a_transient_failure_waits_without_counting_an_attempt() -> None:
    running = processing_job(created_at=NOW - timedelta(seconds=40))
    running.defer("LLM endpoint unreachable", now=NOW, backoff=TRANSIENT, jitter=1.0)
    assert (running.status, running.retry_count) == (JobStatus.FAILED, 0)
    assert running.next_retry_at == NOW + timedelta(seconds=40)
    assert running.last_error == "LLM endpoint unreachable"
    assert running.locked_by is None


def test_transient_failures_for_days_within_the_horizon_never_make_a_job_dead() -> None:
    created = NOW - timedelta(hours=23)
    running = processing_job(created_at=created)
    for _ in range(1000):
        running.defer("down", now=NOW, backoff=TRANSIENT, jitter=0.0)
        assert running.status is JobStatus.FAILED
        running.claim(worker="w1", now=running.next_retry_at or NOW, lease=LEASE, token="t1")
    assert running.retry_count == 0


def test_a_transient_failure_past_the_horizon_makes_the_job_dead_with_the_reason() -> None:
    running = processing_job(created_at=NOW - timedelta(hours=25))
    running.defer("LLM endpoint unreachable", now=NOW, backoff=TRANSIENT, jitter=0.5)
    assert running.status is JobStatus.DEAD
    assert "retry horizon" in (running.last_error or "")
    assert "LLM endpoint unreachable" in (running.last_error or "")
