"""Decide and apply, per fact, inside the job's transaction (docs/behaviour.md, "Decisions").

For each fact: an exact hash match is NONE; otherwise candidates are recalled (vector
top-k of the same type above a minimum score, joined with the user's most recent items
of that type from the database, so a memory not yet indexed is still seen), each is
judged against the fact, and the judgements are aggregated deterministically:
duplicate → NONE; update → UPDATE the best-scored candidate; conflict → DELETE the first
conflicting candidate, then ADD; otherwise ADD. Each fact runs in its own SAVEPOINT so
one bad fact never spoils the others; every change is audited with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from application.ports.embedder import Embedder, Vector
from application.ports.memory_writer import FactWriter, WriteResult
from application.ports.metrics import Metric, Metrics
from application.ports.relation_judge import Comparison, RelationJudge
from application.ports.repositories import ScopeQuery, UnitOfWork
from application.ports.vector_store import VectorFilter, VectorStore
from application.shared.audit import audit_item
from application.shared.documents import document_item_id
from domain.audit import AuditOperation, OperatorType
from domain.decisions import Action, Candidate, Decision, Judgement, Relation, aggregate
from domain.facts import Fact
from domain.jobs import ExtractPayload
from domain.memory import MemoryItem, MemoryStatus, Scope

log = structlog.get_logger(__name__)


AUDIT_PREFIX = {
    AuditOperation.CREATE: "决策层新增",
    AuditOperation.UPDATE: "决策层更新",
    AuditOperation.DELETE: "决策层删除",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionPolicy:
    candidate_top_k: int = 5
    candidate_min_score: float = 0.6


def new_item(
    fact: Fact, payload: ExtractPayload, *, source_event_id: str | None, now: datetime
) -> MemoryItem:
    """The row for an extracted fact."""
    return MemoryItem(
        user_id=payload.user_id,
        scope=Scope(
            conversation_id=payload.conversation_id or None,
            assistant_id=payload.assistant_id,
            run_id=payload.run_id,
        ),
        memory_type=fact.memory_type,
        title=fact.title,
        content=fact.content,
        confidence=fact.confidence,
        importance=fact.importance,
        sensitivity_level=fact.sensitivity_level,
        source_message_id=payload.source_message_id,
        source_event_id=source_event_id,
        is_explicit=fact.is_explicit,
        status=MemoryStatus.ACTIVE,
        ttl_at=fact.ttl_from(payload.occurred_at),
        created_at=now,
        updated_at=now,
    )


def cosine(a: Vector, b: Vector) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class MemoryWriter(FactWriter):
    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        judge: RelationJudge,
        policy: DecisionPolicy,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._embedder = embedder
        self._store = store
        self._judge = judge
        self._policy = policy

    async def write(
        self,
        uow: UnitOfWork,
        facts: Sequence[Fact],
        payload: ExtractPayload,
        *,
        source_event_id: str | None,
        now: datetime,
    ) -> WriteResult:
        """Decide and apply in one unit of work (see :meth:`decide` and :meth:`apply`)."""
        decided = await self.decide(uow, facts, payload, now=now)
        return await self.apply(uow, decided, payload, source_event_id=source_event_id, now=now)

    async def decide(
        self, uow: UnitOfWork, facts: Sequence[Fact], payload: ExtractPayload, *, now: datetime
    ) -> list[tuple[Fact, Decision]]:
        """Recall and judge each fact, reading only: the slow calls (embedder, LLM judge)
        happen here, so a read-only unit of work keeps them out of the write transaction.
        A fact whose decision fails is left out."""
        decided: list[tuple[Fact, Decision]] = []
        for fact in facts:
            try:
                decided.append((fact, await self._decide(uow, fact, payload.user_id, now)))
            except Exception as error:  # one fact's failure never spoils the others
                log.warning("fact_skipped", fact_type=fact.memory_type, error=str(error))
                self._count(Metric.DECISION_TOTAL, action="unknown", status="error")
        return decided

    async def apply(
        self,
        uow: UnitOfWork,
        decided: Sequence[tuple[Fact, Decision]],
        payload: ExtractPayload,
        *,
        source_event_id: str | None,
        now: datetime,
    ) -> WriteResult:
        """Apply the decisions in ``uow``'s transaction, one SAVEPOINT per fact. A target
        that is no longer active makes that fact fail alone."""
        result = WriteResult()
        for fact, decision in decided:
            try:
                async with uow.savepoint():
                    action = await self._apply(
                        uow, fact, decision, payload, source_event_id, now, result
                    )
            except Exception as error:  # one fact's failure never spoils the others
                log.warning("fact_skipped", fact_type=fact.memory_type, error=str(error))
                self._count(Metric.DECISION_TOTAL, action="unknown", status="error")
                continue
            result.actions.append(action)
            self._count(Metric.DECISION_TOTAL, action=action.value, status="ok")
        return result

    async def _decide(self, uow: UnitOfWork, fact: Fact, user_id: str, now: datetime) -> Decision:
        if await uow.items.find_by_hash(user_id, fact.memory_type, fact.content_hash):
            log.info("decision", action="NONE", recall="hash_exact")
            return Decision(action=Action.NONE, reason="hash_exact")
        candidates = await self._recall(uow, fact, user_id, now)
        judged: list[tuple[Candidate, Judgement]] = []
        for candidate in candidates:
            judgement = await self._judge_one(fact, candidate)
            if judgement is not None and judgement.relation is not Relation.UNRELATED:
                judged.append((candidate, judgement))
        decision = aggregate(judged)
        log.info("decision", action=decision.action.value, candidates=len(candidates))
        return decision

    async def _apply(
        self,
        uow: UnitOfWork,
        fact: Fact,
        decision: Decision,
        payload: ExtractPayload,
        source_event_id: str | None,
        now: datetime,
        result: WriteResult,
    ) -> Action:
        if decision.action is Action.NONE:
            return Action.NONE
        if await uow.items.find_by_hash(payload.user_id, fact.memory_type, fact.content_hash):
            return Action.NONE
        target, judgement = decision.target, decision.judgement
        if decision.action is Action.UPDATE and target and judgement:
            await self._update(uow, fact, target, judgement, decision.reason, now, result)
            return Action.UPDATE
        if decision.action is Action.DELETE and target:
            await self._delete(uow, target, decision.reason, now, result)
            await self._add(
                uow, fact, payload, source_event_id, "冲突旧记忆已删除，写入新事实", now, result
            )
            return Action.DELETE
        await self._add(uow, fact, payload, source_event_id, decision.reason, now, result)
        return Action.ADD

    def _count(self, metric: Metric, **labels: str) -> None:
        if self._metrics is not None:
            self._metrics.count(metric, **labels)

    async def _judge_one(self, fact: Fact, candidate: Candidate) -> Judgement | None:
        try:
            judgement = await self._judge.judge(
                Comparison(
                    fact_type=fact.memory_type.value,
                    fact_content=fact.content,
                    memory_type=candidate.item.memory_type.value,
                    memory_content=candidate.item.content,
                    similarity=candidate.similarity,
                )
            )
        except Exception as error:  # a failed comparison counts as unrelated
            log.warning("judge_failed", memory_id=candidate.item.id, error=str(error))
            return None
        if judgement.relation is Relation.UPDATE and not judgement.updated_content.strip():
            return None
        return judgement

    async def _recall(
        self, uow: UnitOfWork, fact: Fact, user_id: str, now: datetime
    ) -> list[Candidate]:
        """Vector candidates above the minimum score, then recent items from the database."""
        top_k = self._policy.candidate_top_k
        scores: dict[int, float] = {}
        fact_vector: Vector | None = None
        try:
            (fact_vector,) = await self._embedder.embed_documents([fact.content])
            hits = await self._store.search(
                fact_vector,
                limit=top_k * 2,
                filter=VectorFilter(
                    user_id=user_id, memory_types=frozenset({fact.memory_type.value})
                ),
            )
            for hit in hits:
                item_id = document_item_id(hit.document_id)
                if item_id is not None and hit.score >= self._policy.candidate_min_score:
                    scores.setdefault(item_id, hit.score)
        except Exception as error:  # recall falls back to the database alone
            log.warning("decision_recall_degraded", error=str(error))
            self._count(Metric.DECISION_FALLBACK_TOTAL, mode="rag_to_mysql")
        by_id = {
            item.id: item
            for item in await uow.items.get_many(user_id, list(scores)[:top_k])
            if item.id is not None and item.status is MemoryStatus.ACTIVE
        }
        recent = await uow.items.scope(
            ScopeQuery(
                user_id=user_id, now=now, memory_types=frozenset({fact.memory_type}), limit=top_k
            )
        )
        for item in recent:
            if item.id is not None:
                by_id.setdefault(item.id, item)
        items = list(by_id.values())
        similarities = await self._similarities(fact_vector, items)
        return [
            Candidate(item=item, score=scores.get(item.id or 0, 0.0), similarity=similarity)
            for item, similarity in zip(items, similarities, strict=True)
        ]

    async def _similarities(
        self, fact_vector: Vector | None, items: list[MemoryItem]
    ) -> list[float | None]:
        if fact_vector is None or not items:
            return [None] * len(items)
        try:
            vectors = await self._embedder.embed_documents([item.content for item in items])
        except Exception:  # without vectors the judge decides on text alone
            return [None] * len(items)
        return [cosine(fact_vector, vector) for vector in vectors]

    async def _add(
        self,
        uow: UnitOfWork,
        fact: Fact,
        payload: ExtractPayload,
        source_event_id: str | None,
        reason: str,
        now: datetime,
        result: WriteResult,
    ) -> None:
        item = new_item(fact, payload, source_event_id=source_event_id, now=now)
        await uow.items.add(item)
        await self._record(uow, item, AuditOperation.CREATE, reason, None, now, result)

    async def _update(
        self,
        uow: UnitOfWork,
        fact: Fact,
        target: Candidate,
        judgement: Judgement,
        reason: str,
        now: datetime,
        result: WriteResult,
    ) -> None:
        item = await self._locked(uow, target)
        before = item.snapshot()
        item.replace_text(
            title=judgement.updated_title or fact.title,
            content=judgement.updated_content or fact.content,
            confidence=fact.confidence,
            importance=fact.importance,
            now=now,
        )
        await uow.items.update(item)
        await self._record(uow, item, AuditOperation.UPDATE, reason, before, now, result)

    async def _delete(
        self, uow: UnitOfWork, target: Candidate, reason: str, now: datetime, result: WriteResult
    ) -> None:
        item = await self._locked(uow, target)
        before = item.snapshot()
        item.delete(now=now)
        await uow.items.update(item)
        await self._record(uow, item, AuditOperation.DELETE, reason, before, now, result)

    @staticmethod
    async def _record(
        uow: UnitOfWork,
        item: MemoryItem,
        operation: AuditOperation,
        reason: str,
        before: dict[str, object] | None,
        now: datetime,
        result: WriteResult,
    ) -> None:
        """Audit a system change (reason prefixed as upstream does) and keep the
        item for re-indexing after commit."""
        prefix = AUDIT_PREFIX[operation]
        await audit_item(
            uow,
            item=item,
            operation=operation,
            operator=OperatorType.SYSTEM,
            reason=f"{prefix}: {reason}",
            default_reason=prefix,
            before=before,
            after=None if operation is AuditOperation.DELETE else item.snapshot(),
            now=now,
        )
        result.changed.append(item)

    @staticmethod
    async def _locked(uow: UnitOfWork, target: Candidate) -> MemoryItem:
        item = await uow.items.get(target.item.user_id, target.item.id or 0, for_update=True)
        if item is None or item.status is not MemoryStatus.ACTIVE:
            raise LookupError(f"memory {target.item.id} is no longer active")
        return item
