"""Idempotency keys for mutating requests (docs/behaviour.md, "HTTP edges")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

DEFAULT_LEASE = timedelta(seconds=60)
"""How long a started key stays ``in_progress`` before another request may take it."""


class Claim(StrEnum):
    STARTED = "started"
    """The caller owns the key now and must ``finish`` or ``abandon`` it."""
    REPLAY = "replay"
    MISMATCH = "mismatch"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredResponse:
    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyClaim:
    outcome: Claim
    response: StoredResponse | None = None


class IdempotencyStore(Protocol):
    """Remembers, per user and key, the request's hash and its first response.

    ``begin`` is atomic: of two concurrent requests with one key exactly one gets
    ``STARTED``. An expired key behaves as if it had never been used. A started key holds
    a lease: ``in_progress`` until ``now + lease``, after which another request may start
    it again (the first one crashed or hangs); ``finish`` keeps the response until
    ``expires_at`` (the first request's start plus the key's time to live).
    """

    async def begin(
        self,
        user_id: str,
        key: str,
        request_hash: str,
        *,
        now: datetime,
        ttl: timedelta,
        lease: timedelta = DEFAULT_LEASE,
    ) -> KeyClaim:
        """``ttl`` bounds the lease too: a lease never outlives the key."""
        ...

    async def finish(
        self, user_id: str, key: str, response: StoredResponse, *, expires_at: datetime
    ) -> None: ...

    async def abandon(self, user_id: str, key: str) -> None:
        """Forget a started key (the request failed in a way worth retrying)."""
        ...
