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
