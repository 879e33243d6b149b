"""Per-event-loop resources for async clients.

Async HTTP clients are bound to the event loop that first used them, and memvault runs
more than one loop in a process (the API's and the embedded worker's). Adapters that
hold such a client keep one per running loop instead of sharing it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LoopLocal(Generic[T]):
    """Builds one ``T`` per running event loop, on first use in that loop."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> T:
        """The current loop's resource; must be called inside a running loop."""
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            item = self._factory()
            self._items[loop] = item
        return item

    def pop_current(self) -> T | None:
        """Forget and return the current loop's resource, if it was ever built."""
        return self._items.pop(asyncio.get_running_loop(), None)
