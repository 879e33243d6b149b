"""The API's background task that writes the access times searches record in memory."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from memvault.application.search.access_times import AccessTimes

log = structlog.get_logger(__name__)


class AccessFlusher:
    """Flushes every ``interval_s`` and once more when stopped; a failed flush is logged
    and its times retried at the next one."""

    def __init__(self, access: AccessTimes, *, interval_s: float) -> None:
        self._access = access
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name="access-times")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._flush()

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self._flush()

    async def _flush(self) -> None:
        try:
            await self._access.flush()
        except Exception as error:  # the next flush retries; reads never depend on it
            log.warning("access_times_flush_failed", error=f"{type(error).__name__}: {error}")
