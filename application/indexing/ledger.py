"""What this process knows about vector syncs: which are still running, which failed.

Kept in memory per process, on purpose: the worst a restart costs is one more attempt
per failing item. Across processes the database holds each sync's deadline
(``memory_items.vector_sync_until``, set by the write that starts it and by the sweeper
that takes an item): no process's sweeper takes an item before it passes. This ledger
adds what only this process knows: its own syncs still running past their deadline
(never embedded twice at once by this process), and the items that failed here, which
its sweeper retries one per call (a poison item fails alone) and lets rest, with a
backoff, once they keep failing, so they never starve the items behind them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

RESTLESS_ATTEMPTS = 2
"""Failed attempts retried at every sweep; from the next one on an item rests."""
MAX_REST = timedelta(minutes=10)
MAX_TRACKED = 10_000
"""Failing items remembered at most (the oldest are forgotten: they start over)."""
MAX_EXCLUDED = 1_000
"""Item ids a sweep passes to the database to skip, at most (the rest it skips itself)."""


@dataclass(slots=True)
class _Failures:
    version: datetime | None
    """``updated_at`` of the failing version: a new change starts the count over."""
    attempts: int
    rest_until: datetime


class SyncLedger:
    """Thread-safe: the API loop and worker threads share one per process."""

    def __init__(self, *, rest: timedelta = timedelta(seconds=30)) -> None:
        self._rest = rest
        self._lock = threading.Lock()
        self._running: dict[int, int] = {}
        self._failures: OrderedDict[int, _Failures] = OrderedDict()

    def started(self, item_ids: Iterable[int]) -> None:
        with self._lock:
            for item_id in item_ids:
                self._running[item_id] = self._running.get(item_id, 0) + 1

    def finished(self, item_ids: Iterable[int]) -> None:
        with self._lock:
            for item_id in item_ids:
                left = self._running.pop(item_id, 1) - 1
                if left > 0:
                    self._running[item_id] = left

    def failed(self, versions: Iterable[tuple[int, datetime | None]], *, now: datetime) -> None:
        """Count one more failed attempt per ``(item id, updated_at)``."""
        with self._lock:
            for item_id, version in versions:
                record = self._failures.pop(item_id, None)
                if record is None or record.version != version:
                    record = _Failures(version, 0, now)
                record.attempts += 1
                over = record.attempts - RESTLESS_ATTEMPTS
                rest = min(self._rest * 2 ** (over - 1), MAX_REST) if over > 0 else timedelta()
                record.rest_until = now + rest
                self._failures[item_id] = record
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, item_ids: Iterable[int]) -> None:
        with self._lock:
            for item_id in item_ids:
                self._failures.pop(item_id, None)

    def attempts(self, item_id: int) -> int:
        with self._lock:
            record = self._failures.get(item_id)
            return 0 if record is None else record.attempts

    def skipped(self, *, now: datetime) -> list[int]:
        """Ids a sweep must leave alone now: syncs still running, then resting items
        (the latest failures first). Every one: however many are running (a 5,000-item
        batch sent in ten concurrent calls), none may be embedded a second time."""
        with self._lock:
            running = list(self._running)
            resting = [i for i, r in reversed(self._failures.items()) if r.rest_until > now]
        return running + resting
