"""Dramatiq's Redis broker, woken instead of polled.

Upstream, a consumer that finds its queue empty sleeps with a growing backoff, up to
the worker timeout (1 s by default), before it fetches again: a job enqueued into an
idle worker waited up to that long. Here every enqueue also pushes a token on the
queue's wake list (``<namespace>:<queue>.wake``, trimmed to :data:`WAKE_TOKENS`), and
a consumer that finds its queue empty blocks on that list (``BLPOP``) instead of
sleeping: it fetches as soon as a message arrives. The worker timeout stays the
longest wait, so a lost token (a Redis restart) costs one timeout, no more; a stale
token costs one empty fetch.

The consumer is Dramatiq's own (its fetch, ack, heartbeat and maintenance unchanged),
plugged in through the broker's ``consumer_class`` hook; only its idle wait differs.
"""

from __future__ import annotations

from typing import Any

import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

WAKE_TOKENS = 64
"""Tokens kept per queue at most: enough to wake every consumer of a burst."""


class WakingRedisBroker(RedisBroker):
    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return _WakingConsumer

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        sent: Message[Any] = super().enqueue(message, delay=delay)
        key = self.wake_key(sent.queue_name)  # the delay queue's own list for a delayed one
        pipe = self.client.pipeline(transaction=False)
        pipe.lpush(key, 1)
        pipe.ltrim(key, 0, WAKE_TOKENS - 1)
        pipe.execute()
        return sent

    def wake_key(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.wake"

    def wait_for_enqueue(self, queue_name: str, timeout_ms: int) -> bool:
        """Block until a token for ``queue_name`` arrives (True) or the timeout (False)."""
        seconds = max(timeout_ms, 10) / 1000
        return self.client.blpop([self.wake_key(queue_name)], timeout=seconds) is not None


class _WakingConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer whose idle wait is a ``BLPOP`` on the wake list.

    ``wakeups`` counts the waits a token ended (rather than the timeout)."""

    def __init__(self, broker: WakingRedisBroker, *args: Any) -> None:
        super().__init__(broker, *args)  # type: ignore[no-untyped-call]
        self.wakeups = 0

    def __next__(self) -> Any:
        if not self.message_cache and self.outstanding_message_count < self.prefetch:
            try:
                self.message_cache = self.broker.do_fetch(
                    self.queue_name, self.prefetch - self.outstanding_message_count
                )
                if not self.message_cache:
                    if self.broker.wait_for_enqueue(self.queue_name, self.timeout):
                        self.wakeups += 1
                    return None
            except redis.ConnectionError as error:
                raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]
        return super().__next__()  # type: ignore[no-untyped-call]
