"""Import memories from an export file, all or nothing, idempotently.

Rules, per line (docs/export-import.md):
- the line's ``(user_id, id)`` already exists → skipped (unchanged);
- else the user already has an *active* item of the same type with the same content
  hash (one that this import did not itself add) → skipped;
- else inserted with every field as exported; under its own id when that id is free,
  under a new id when another user's item holds it ("renumbered").
Every line is validated before anything is written; one bad line rejects the whole file
with the numbers of the bad lines, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from memvault.application.ports.clock import Clock
from memvault.application.ports.indexer import ItemIndexer
from memvault.application.ports.repositories import UnitOfWork, UnitOfWorkFactory
from memvault.application.shared.audit import audit_item
from memvault.application.transfer.lines import ExportedMemory, decode
from memvault.domain.audit import AuditOperation, OperatorType
from memvault.domain.errors import DomainError, InvalidValue
from memvault.domain.memory import MemoryItem

INDEX_BATCH = 200
MAX_REPORTED_PROBLEMS = 20
IMPORT_REASON = "imported"
Progress = Callable[[int, int], None]
"""Called with (lines done, lines in all)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LineProblem:
    line: int
    field: str | None
    detail: str


class ImportRejected(InvalidValue):
    """The file has invalid lines; ``problems`` lists them (line numbers from 1)."""

    def __init__(self, problems: list[LineProblem]) -> None:
        shown = "; ".join(f"line {p.line}: {p.detail}" for p in problems[:MAX_REPORTED_PROBLEMS])
        more = len(problems) - MAX_REPORTED_PROBLEMS
        suffix = f"; and {more} more" if more > 0 else ""
        super().__init__(
            f"{len(problems)} invalid line(s), nothing imported: {shown}{suffix}",
            field=f"line {problems[0].line}",
        )
        self.problems = problems


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportMemories:
    lines: Iterable[str]
    operator: OperatorType = OperatorType.ADMIN
    operator_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportReport:
    lines: int
    inserted: int
    skipped: int
    renumbered: int


def parse(lines: Iterable[str]) -> list[ExportedMemory]:
    """Every non-blank line decoded, or :class:`ImportRejected` naming the bad ones."""
    memories: list[ExportedMemory] = []
    problems: list[LineProblem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            memories.append(decode(line))
        except DomainError as error:
            problems.append(LineProblem(line=number, field=error.field, detail=error.detail))
    if problems:
        raise ImportRejected(problems)
    return memories


class ImportMemoriesUseCase:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, indexer: ItemIndexer) -> None:
        self._uow = uow
        self._clock = clock
        self._indexer = indexer

    async def __call__(
        self, command: ImportMemories, progress: Progress | None = None
    ) -> ImportReport:
        memories = parse(command.lines)
        added: list[MemoryItem] = []
        added_ids: set[int | None] = set()
        later: list[ExportedMemory] = []
        skipped = 0
        async with self._uow() as uow:
            for done, memory in enumerate(memories, start=1):
                outcome = await self._place(uow, memory, added_ids)
                if outcome == "insert":
                    await uow.transfer.insert(memory.item)
                    await self._audit(uow, memory, command)
                    added.append(memory.item)
                    added_ids.add(memory.item.id)
                elif outcome == "renumber":
                    later.append(memory)
                else:
                    skipped += 1
                if progress is not None:
                    progress(done, len(memories))
            await uow.transfer.ids_inserted()
            for memory in later:  # after the id generator has moved past the kept ids
                renumbered = replace(memory, item=replace(memory.item, id=None))
                await uow.items.add(renumbered.item)
                await self._audit(uow, renumbered, command)
                added.append(renumbered.item)
            await uow.commit()
        for start in range(0, len(added), INDEX_BATCH):
            await self._indexer.items_changed(added[start : start + INDEX_BATCH])
        return ImportReport(
            lines=len(memories), inserted=len(added), skipped=skipped, renumbered=len(later)
        )

    @staticmethod
    async def _place(uow: UnitOfWork, memory: ExportedMemory, added: set[int | None]) -> str:
        item = memory.item
        owner = None if item.id is None else await uow.transfer.owner(item.id)
        if owner == item.user_id:
            return "skip"
        same = await uow.items.find_by_hash(item.user_id, item.memory_type, item.content_hash)
        if any(found.id not in added for found in same):
            return "skip"
        return "insert" if item.id is not None and owner is None else "renumber"

    async def _audit(
        self, uow: UnitOfWork, memory: ExportedMemory, command: ImportMemories
    ) -> None:
        item = memory.item
        for entry in memory.history or []:
            await uow.audit.add(replace(entry, target_id=str(item.id)))
        await audit_item(
            uow,
            item=item,
            operation=AuditOperation.CREATE,
            operator=command.operator,
            operator_id=command.operator_id,
            reason=IMPORT_REASON,
            default_reason=IMPORT_REASON,
            before=None,
            after=item.snapshot(),
            now=self._clock.now(),
        )
