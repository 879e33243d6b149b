"""The retention port: deleting rows memvault no longer needs (docs/behaviour.md,
"Retention")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Purgeable(StrEnum):
    """What the purge deletes, and from when a row of each kind counts as old."""

    IDEMPOTENCY_KEYS = "idempotency_keys"
    """Keys whose ``expires_at`` (the end of a finished key's life, or the lease of an
    ``in_progress`` one) is before the cutoff: a live lease is never old."""
    INBOX = "inbox"
    """Consumed-event ids (the consumer's dedup records) consumed before the cutoff."""
    CONSUMED_OUTBOX = "consumed_outbox"
    """Outbox rows ``consumed`` before the cutoff; other statuses are never purged."""
    DEAD_EVENTS = "dead_events"
    """Dead events recorded before the cutoff."""
    CHAT_MESSAGES = "chat_messages"
    """Chat turns stored before the cutoff whose job (same user, conversation and
    message id) ended (``success`` or ``dead``) before the cutoff or never existed, and
    whose conversation has no outbox row still to be consumed: a turn whose job is
    pending, processing or failed, or whose event is still on its way, is kept."""


class RetentionStore(Protocol):
    """Finds and deletes old rows, one kind at a time, in bounded batches.

    Contract: ``purge`` deletes at most ``limit`` rows that are old (see
    :class:`Purgeable`) for ``before`` in one short transaction, re-checking the rule
    in the delete itself, so a row that stopped being old meanwhile stays; it returns
    how many it deleted (fewer than ``limit``: nothing more is old). ``count`` says how
    many rows are old now, deleting nothing.
    """

    async def purge(self, kind: Purgeable, *, before: datetime, limit: int) -> int: ...

    async def count(self, kind: Purgeable, *, before: datetime) -> int: ...
