"""In-process outbox notifier: the relay in this process sleeps on it between polls."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from memvault.application.ports.outbox_notifier import OutboxNotifier


class InProcessNotifier(OutboxNotifier):
    """A thread-safe wake-up flag (the writers may run on other threads' loops).

    ``wait`` returns as soon as ``outbox_written`` was called since the last ``wait``
    returned, or after ``timeout`` seconds: True when it was woken. ``wakeups`` counts
    the notifications received.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = False
        self._waiters: set[asyncio.Future[None]] = set()
        self.wakeups = 0

    def outbox_written(self) -> None:
        with self._lock:
            self._pending = True
            self.wakeups += 1
            waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            with contextlib.suppress(RuntimeError):  # its loop closed: nobody to wake
                waiter.get_loop().call_soon_threadsafe(_resolve, waiter)

    async def wait(self, timeout: float) -> bool:
        with self._lock:
            if self._pending:
                self._pending = False
                return True
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            with self._lock:
                self._waiters.discard(waiter)
                woken, self._pending = self._pending, False
        return woken


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
