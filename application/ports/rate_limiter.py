"""The rate limiter port: may this key make one more request now?"""

from __future__ import annotations

from typing import Protocol


class RateLimiter(Protocol):
    """Counts requests per key (a user id) against one configured rate.

    Contract: ``acquire`` counts one request and returns 0 when it may go, else the
    seconds until one may (the request is then not counted). ``rate`` is the allowed
    average in requests per second, for messages.
    """

    @property
    def rate(self) -> float: ...

    async def acquire(self, key: str) -> float: ...
