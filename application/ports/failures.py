"""How a failed call to a dependency should be treated (docs/behaviour.md, "Extraction
jobs"). Adapters raise their port's error type mixed with one of these; use cases ask
:func:`failure_kind` instead of knowing any driver or HTTP library."""

from __future__ import annotations

from enum import StrEnum


class TransientFailure(Exception):
    """The dependency is down, slow or overloaded (connection refused, timeout, HTTP 5xx,
    408, 429, broker down): the same call may succeed later, so it is retried for the
    retry horizon and never counts toward ``dead``."""


class PermanentFailure(Exception):
    """The call can never succeed as it is (invalid payload, HTTP 4xx other than 408 and
    429, a wrong API key answered 401/403): retrying is pointless, the work is dead."""


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    COUNTED = "counted"
    """Neither: an unexpected error, retried with backoff up to ``max_retry`` attempts."""


_MAX_CHAIN = 16


def failure_kind(error: BaseException) -> FailureKind:
    """The kind of ``error``, read from it and its causes (adapters often wrap)."""
    current: BaseException | None = error
    seen = 0
    while current is not None and seen < _MAX_CHAIN:
        if isinstance(current, PermanentFailure):
            return FailureKind.PERMANENT
        if isinstance(current, TransientFailure):
            return FailureKind.TRANSIENT
        current = current.__cause__ or current.__context__
        seen += 1
    return FailureKind.COUNTED
