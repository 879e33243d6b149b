"""Backoff schedules: exponential for jobs, quadratic for outbox rows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from memvault.domain.retry import ExponentialBackoff, QuadraticBackoff, TransientBackoff


@pytest.mark.parametrize(
    ("attempt", "seconds"),
    [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 32), (100, 32)],
)
def test_exponential_backoff_doubles_per_attempt_up_to_the_sixth(
    attempt: int, seconds: int
) -> None:
    assert ExponentialBackoff().delay(attempt) == timedelta(seconds=seconds)


@pytest.mark.parametrize("attempt", [0, -1, -100])
def test_exponential_backoff_treats_a_non_positive_attempt_as_the_first(attempt: int) -> None:
    assert ExponentialBackoff().delay(attempt) == timedelta(seconds=1)


def test_exponential_backoff_scales_with_its_base_and_respects_its_cap() -> None:
    backoff = ExponentialBackoff(base_seconds=0.5, max_exponent=3)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [
        timedelta(seconds=0.5),
        timedelta(seconds=1),
        timedelta(seconds=2),
        timedelta(seconds=2),
    ]


@pytest.mark.parametrize(
    ("attempt", "seconds"),
    [(1, 1), (2, 4), (3, 9), (4, 16), (5, 25), (9, 81), (10, 100), (11, 100), (50, 100)],
)
def test_quadratic_backoff_squares_the_attempt_up_to_the_tenth(attempt: int, seconds: int) -> None:
    assert QuadraticBackoff().delay(attempt) == timedelta(seconds=seconds)


@pytest.mark.parametrize("attempt", [0, -1, -100])
def test_quadratic_backoff_treats_a_non_positive_attempt_as_the_first(attempt: int) -> None:
    assert QuadraticBackoff().delay(attempt) == timedelta(seconds=1)


def test_quadratic_backoff_scales_with_its_base_and_respects_its_cap() -> None:
    backoff = QuadraticBackoff(base_seconds=2, max_n=2)
    assert [backoff.delay(n) for n in (1, 2, 3)] == [
        timedelta(seconds=2),
        timedelta(seconds=8),
        timedelta(seconds=8),
    ]


@pytest.mark.parametrize(
    ("waited", "jitter", "seconds"),
    [(0, 1.0, 1), (0, 0.0, 0.5), (3, 1.0, 3), (8, 0.0, 4), (1000, 1.0, 300), (1000, 0.0, 150)],
)
def test_a_transient_wait_is_the_time_waited_so_far_capped_and_jittered(
    waited: float, jitter: float, seconds: float
) -> None:
    backoff = TransientBackoff(base_seconds=1, cap_seconds=300)
    assert backoff.delay(timedelta(seconds=waited), jitter=jitter) == timedelta(seconds=seconds)


def test_the_transient_horizon_is_24_hours_by_default() -> None:
    assert not TransientBackoff().exhausted(timedelta(hours=23, minutes=59))
    assert TransientBackoff().exhausted(timedelta(hours=24))
