"""A rate limit shared by every API process, kept in Redis by the ``limits`` library.

A moving window of ``burst`` requests per ``burst / rate`` seconds (at least one second)
stands in for the in-process token bucket: the same average rate and the same largest
burst, counted in one place whatever the number of API processes. When Redis does not
answer, requests are let through (and a warning logged): the rate limit protects the
service, it must not be what takes it down.
"""

from __future__ import annotations

import math
import time

import structlog
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from memvault.application.ports.rate_limiter import RateLimiter

log = structlog.get_logger(__name__)


class RedisRateLimiter(RateLimiter):
    def __init__(self, redis_url: str, *, rate: float, burst: int, namespace: str) -> None:
        window = max(1, round(burst / rate))
        self._rate = rate
        self._item = RateLimitItemPerSecond(max(1, math.floor(rate * window)), window)
        self._storage = RedisStorage(
            f"async+{redis_url}",
            implementation="redispy",
            key_prefix=namespace,
            wrap_exceptions=True,
        )
        self._limiter = MovingWindowRateLimiter(self._storage)

    @property
    def rate(self) -> float:
        return self._rate

    async def acquire(self, key: str) -> float:
        try:
            if await self._limiter.hit(self._item, key):
                return 0.0
            stats = await self._limiter.get_window_stats(self._item, key)
        except StorageError as error:
            log.warning("rate_limit_unavailable", error=str(error))
            return 0.0
        return max(0.001, stats.reset_time - time.time())

    async def aclose(self) -> None:
        client = getattr(self._storage.bridge, "storage", None)
        if client is not None:
            await client.aclose()
