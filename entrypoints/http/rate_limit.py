"""Per-user rate limit (20 requests/s, bursts of 40, then 429 with ``Retry-After``).

In-process token buckets by default; with several API processes (scale mode with
Redis, ``MEMVAULT_RATE_LIMIT_STORAGE``) the container's shared limiter counts in Redis
instead, so N processes still allow one user the configured rate, not N times it.
Public endpoints (no user) are not limited.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from memvault.application.ports.rate_limiter import RateLimiter
from memvault.entrypoints.http.asgi import send_problem
from memvault.entrypoints.http.auth import Principal

MAX_TRACKED_USERS = 100_000


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``take(user)`` is 0 when a request may go, else the seconds until it may."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, user: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        bucket = self._buckets.pop(user, None) or Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[user] = bucket
        if len(self._buckets) > MAX_TRACKED_USERS:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class InProcessLimiter(RateLimiter):
    """The token buckets behind the rate limiter port."""

    def __init__(self, buckets: TokenBuckets) -> None:
        self._buckets = buckets

    @property
    def rate(self) -> float:
        return self._buckets.rate

    async def acquire(self, key: str) -> float:
        return self._buckets.take(key)


class RateLimitMiddleware:
    """Uses the limiter the app's startup put in ``app.state.rate_limiter`` (the shared
    one) when there is one, else the in-process buckets."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets
        self.local = InProcessLimiter(buckets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if scope["type"] == ScopeType.HTTP and isinstance(user, Principal):
            shared = getattr(scope["app"].state, "rate_limiter", None)
            limiter: RateLimiter = shared or self.local
            wait = await limiter.acquire(user.user_id)
            if wait > 0:
                retry_after = str(max(1, math.ceil(wait)))
                await send_problem(
                    send,
                    429,
                    f"rate limit of {limiter.rate:g} requests/s exceeded",
                    code="RateLimited",
                    headers=[("Retry-After", retry_after)],
                )
                return
        await self.app(scope, receive, send)
