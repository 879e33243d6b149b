"""Backoff schedules for jobs and outbox rows (docs/behaviour.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class ExponentialBackoff:
    """``base * 2^(n-1)`` with n capped: 1, 2, 4, 8, 16 s by default."""

    base_seconds: float = 1.0
    max_exponent: int = 6

    def delay(self, attempt: int) -> timedelta:
        n = min(max(attempt, 1), self.max_exponent)
        return timedelta(seconds=self.base_seconds * 2 ** (n - 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class QuadraticBackoff:
    """``base * n²`` with n capped: 1, 4, 9 ... 100 s by default."""

    base_seconds: float = 1.0
    max_n: int = 10

    def delay(self, attempt: int) -> timedelta:
        n = min(max(attempt, 1), self.max_n)
        return timedelta(seconds=self.base_seconds * n * n)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransientBackoff:
    """Waits after a transient failure (a dependency down), for as long as ``horizon``.

    The wait is as long as the work has already waited since it was accepted, at least
    ``base`` and at most ``cap``, times a jitter factor in [1/2, 1]: the waits double
    (base, base, 2·base, 4·base ...) until the cap, and many rows failing together do not
    come back together. Past the horizon the work is given up (``dead``).
    """

    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    horizon_seconds: float = 86_400.0

    def exhausted(self, waited: timedelta) -> bool:
        return waited.total_seconds() >= self.horizon_seconds

    def delay(self, waited: timedelta, *, jitter: float) -> timedelta:
        """``jitter`` in [0, 1] (random in production) scales the wait by 1/2 to 1."""
        seconds = min(max(waited.total_seconds(), self.base_seconds), self.cap_seconds)
        factor = 0.5 + 0.5 * min(max(jitter, 0.0), 1.0)
        return timedelta(seconds=seconds * factor)
