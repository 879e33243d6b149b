"""The memory writer port: decide what each extracted fact changes, then apply it.

The two halves run in different units of work: :meth:`FactWriter.decide` in a read-only
one (it makes the slow embedder and judge calls), :meth:`FactWriter.apply` inside the
job's write transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from memvault.application.ports.repositories import UnitOfWork
from memvault.domain.decisions import Action, Decision
from memvault.domain.facts import Fact
from memvault.domain.jobs import ExtractPayload, FactOutcome
from memvault.domain.memory import MemoryItem, MemoryStatus


@dataclass(slots=True, kw_only=True)
class WriteResult:
    """What the transaction changed: items to re-index after commit."""

    changed: list[MemoryItem] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    outcomes: list[FactOutcome] = field(default_factory=list)
    """Per fact applied, what happened (``added``, ``duplicate``, ...)."""
    request_id: str | None = None
    """The request that caused the job: the ``operator_id`` of its audit entries."""

    @property
    def memory_ids(self) -> tuple[int, ...]:
        ids = [i.id for i in self.changed if i.id is not None and i.status is MemoryStatus.ACTIVE]
        return tuple(dict.fromkeys(ids))


class FactWriter(Protocol):
    """Contract: ``decide`` only reads and raises when a decision fails (the job then
    retries);
    ``apply`` runs one SAVEPOINT per fact, so a failing fact (e.g. its target is no
    longer active) changes nothing and never spoils the others."""

    async def decide(
        self, uow: UnitOfWork, facts: Sequence[Fact], payload: ExtractPayload, *, now: datetime
    ) -> list[tuple[Fact, Decision]]: ...

    async def apply(
        self,
        uow: UnitOfWork,
        decided: Sequence[tuple[Fact, Decision]],
        payload: ExtractPayload,
        *,
        source_event_id: str | None,
        now: datetime,
        sync_until: datetime | None = None,
    ) -> WriteResult:
        """``sync_until``: the deadline of the vector sync that follows the commit,
        recorded with every item written (``MemoryItemRepository.add``)."""
        ...
