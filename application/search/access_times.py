"""When each memory was last returned by a search, written in batches off the read path.

A search only *records* the ids it returned, in this process's memory; a background
task of the API calls :meth:`AccessTimes.flush` every few seconds (and once at
shutdown), which writes them in one transaction. So no read request writes, and a
thousand searches cost one short write instead of a thousand write locks.

The price: a process that dies without its shutdown hook (a crash, ``kill -9``) loses
the access times recorded since its last flush. ``last_access_at`` is informational (it
is shown to users and operators; neither ranking nor visibility reads it), so losing a
few seconds of it is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import structlog

from memvault.application.ports.repositories import UnitOfWorkFactory

log = structlog.get_logger(__name__)
MAX_PENDING = 100_000


class AccessTimes:
    """Per process (per event loop): ``record`` never blocks and never fails."""

    def __init__(self, uow: UnitOfWorkFactory, *, max_pending: int = MAX_PENDING) -> None:
        self._uow = uow
        self._max_pending = max_pending
        self._pending: dict[int, datetime] = {}

    def record(self, item_ids: Iterable[int], *, at: datetime) -> None:
        """Remember that these items were read at ``at``. Beyond ``max_pending`` distinct
        items waiting for a flush, new ones are dropped (memory stays bounded)."""
        pending = self._pending
        for item_id in item_ids:
            known = pending.get(item_id)
            if known is None and len(pending) >= self._max_pending:
                continue
            if known is None or known < at:
                pending[item_id] = at

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write what was recorded since the last flush; returns how many items. On
        failure the times are kept for the next flush (newest wins) and the error raised."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, {}
        try:
            async with self._uow() as uow:
                await uow.items.touch(batch)
                await uow.commit()
        except BaseException:
            self._restore(batch)
            raise
        log.debug("access_times_flushed", items=len(batch))
        return len(batch)

    def _restore(self, times: dict[int, datetime]) -> None:
        for item_id, at in times.items():
            self.record([item_id], at=at)
