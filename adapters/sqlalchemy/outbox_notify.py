"""PostgreSQL ``LISTEN/NOTIFY`` for the outbox: a relay in another process is woken as
soon as an ingest commits.

The writer's side is one statement in the ingest's own transaction
(:data:`NOTIFY_OUTBOX`): PostgreSQL delivers a notification only when that transaction
commits, and never for one that rolls back, so "after the commit" holds by
construction. The relay's side is :class:`PostgresOutboxListener`: one asyncpg
connection that ``LISTEN``s (asyncpg's ``add_listener``) and calls ``wake`` for each
notification. A notification is a hint: while the connection is down the relay's poll
delivers the rows, and every (re)connection wakes the relay once for what it may have
missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url

from memvault.application.ports.outbox_notifier import OutboxListener

CHANNEL = "memvault_outbox"
NOTIFY_OUTBOX = text(f"SELECT pg_notify('{CHANNEL}', '')")
"""Run inside a transaction that wrote outbox rows (identical notifications of one
transaction are delivered once)."""
RECONNECT_PAUSE_S = 1.0

log = structlog.get_logger(__name__)


def asyncpg_dsn(url: str) -> str:
    """The plain ``postgresql://`` DSN asyncpg takes, from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresOutboxListener(OutboxListener):
    """``LISTEN memvault_outbox`` on its own connection until cancelled.

    ``notifications`` counts what arrived; ``listening`` is set while the ``LISTEN``
    is in place (tests wait for it before writing).
    """

    def __init__(self, url: str, wake: Callable[[], None]) -> None:
        self._dsn = asyncpg_dsn(url)
        self._wake = wake
        self.notifications = 0
        self.listening = asyncio.Event()

    async def listen(self) -> None:
        while True:
            try:
                await self._session()
            except Exception as error:  # the poll covers the gap; listen again soon
                log.warning("outbox_listen_lost", error=f"{type(error).__name__}: {error}")
            self.listening.clear()
            await asyncio.sleep(RECONNECT_PAUSE_S)

    async def _session(self) -> None:
        """One connection: listen until it is lost (returns) or the task is cancelled."""
        import asyncpg  # the postgres extra; this listener runs only on PostgreSQL

        connection = await asyncpg.connect(self._dsn)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        try:
            await connection.add_listener(CHANNEL, self._notified)
            self.listening.set()
            self._wake()  # rows written while nobody listened
            await lost.wait()
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await asyncio.shield(connection.close(timeout=5))

    def _notified(self, *_: Any) -> None:
        self.notifications += 1
        self._wake()
