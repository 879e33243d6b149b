"""Waking a user's next job (docs/behaviour.md, "Extraction jobs": one message per job).

A job whose user is busy is parked: it has no message on its way. Whatever ends or lets
go of a user's job (success, failure, death, a released lease, a rescue) wakes the
user afterwards, in a transaction of its own under the user's lock: the user's oldest
due job is enqueued, unless another job of the user is running or already has a
message on its way. The sweeper wakes, after a grace, whom a lost wake missed.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from memvault.application.config import JobPolicy
from memvault.application.ports.clock import Clock
from memvault.application.ports.job_queue import JobQueue
from memvault.application.ports.repositories import UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger(__name__)


class WakeUsers:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, queue: JobQueue, policy: JobPolicy
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._queue = queue
        self._policy = policy

    async def __call__(self, user_ids: Iterable[str]) -> list[int]:
        """The jobs enqueued. A failure is logged, never raised: the job that ended is
        already committed, and the sweeper wakes the user later."""
        woken: list[int] = []
        for user_id in dict.fromkeys(user_ids):
            try:
                woken.extend(await self._wake(user_id))
            except Exception as error:  # the sweeper is the safety net
                log.warning("job_wake_failed", user_id=user_id, error=describe(error))
        await self.send(woken)
        return woken

    async def within(self, uow: UnitOfWork, user_id: str) -> list[int]:
        """Wake ``user_id`` in ``uow``'s transaction (the one that ended the user's job,
        so that it commits both at once); :meth:`send` the ids after the commit."""
        now = self._clock.now()
        return await uow.jobs.wake(
            now=now, fresh_since=now - self._policy.requeue_grace, limit=1, user_id=user_id
        )

    async def send(self, woken: list[int]) -> None:
        """Enqueue woken jobs (committed); a failure is logged: the sweeper re-sends
        them after the grace."""
        try:
            await self._queue.enqueue(woken)
        except Exception as error:
            log.warning("job_wake_failed", job_ids=woken, error=describe(error))

    async def _wake(self, user_id: str) -> list[int]:
        async with self._uow() as uow:
            woken = await self.within(uow, user_id)
            await uow.commit()
        return woken


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
