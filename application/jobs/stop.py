"""The stop of a worker process, as the jobs in hand see it (docs/behaviour.md,
"Extraction jobs": stopping).

The thread that stops the worker calls :meth:`JobStop.stop`; each job being processed
watches the signal on its own event loop and, unless it is already committing,
releases its lease. ``stop`` returns once every job in hand has let go (or its wait
runs out), so that the worker's threads then end at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class JobStop:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._stopping = False
        self._watchers: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}

    @contextmanager
    def watching(self) -> Iterator[asyncio.Event]:
        """An event of the running loop, set when the process stops (at once if it is
        already stopping); the job is in hand until the block ends."""
        event = asyncio.Event()
        loop = asyncio.get_running_loop()
        with self._changed:
            self._watchers[id(event)] = (loop, event)
            if self._stopping:
                event.set()
        try:
            yield event
        finally:
            with self._changed:
                del self._watchers[id(event)]
                self._changed.notify_all()

    def stop(self, *, timeout: float) -> bool:
        """Tell every job in hand, then wait up to ``timeout`` seconds until none is
        left; ``False`` if some still are."""
        with self._changed:
            self._stopping = True
            for loop, event in self._watchers.values():
                with suppress(RuntimeError):  # its loop has closed: nothing to tell
                    loop.call_soon_threadsafe(event.set)
            return self._changed.wait_for(lambda: not self._watchers, timeout)
