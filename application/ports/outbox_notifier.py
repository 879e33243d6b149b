"""The outbox notifier port: "new outbox rows were committed", said after the commit."""

from __future__ import annotations

from typing import Protocol


class OutboxNotifier(Protocol):
    """Wakes the relay as soon as a transaction that wrote outbox rows has committed.

    Contract: ``outbox_written`` is called only after the commit, never raises and
    never blocks. It is a hint: the relay still polls as the fallback, so a lost
    notification delays delivery by one poll interval, nothing more.
    """

    def outbox_written(self) -> None: ...


class OutboxListener(Protocol):
    """Hears the outbox writes of other processes (PostgreSQL ``NOTIFY``) and wakes this
    process's relay. Also a hint: a notification lost while disconnected costs one poll
    interval."""

    async def listen(self) -> None:
        """Until cancelled; reconnects by itself after losing its connection."""
        ...
