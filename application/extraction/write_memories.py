"""Decide per fact in a read-only unit of work, then apply in the job's transaction
(docs/behaviour.md, "Decisions"; docs/adr/0007).

For each fact: an exact hash match among the user's visible (active, unexpired) items is
NONE; otherwise candidates are recalled (vector
top-k of the same type above a minimum score, joined with the user's most recent items
of that type from the database, so a memory not yet indexed is still seen; expired items
are never candidates), each is
judged against the fact, and the judgements are aggregated deterministically:
duplicate → NONE; update → UPDATE the best-scored candidate; conflict → DELETE the first
conflicting candidate, then ADD; otherwise ADD. An ADD first deletes, audited, the
expired items with the same hash: the fact is learned again. A failing judge or recall
fails the whole attempt, so the job retries (never a silent ADD). Each fact is applied in
its own SAVEPOINT so one bad fact never spoils the others; every change is audited with
its reason, and each fact's outcome is recorded for the job (docs/behaviour.md,
"Outcomes").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from memvault.application.ports.embedder import Embedder, Vector
from memvault.application.ports.memory_writer import FactWriter, WriteResult
from memvault.application.ports.metrics import NO_METRICS, Metric, Metrics
from memvault.application.ports.relation_judge import Comparison, RelationJudge
from memvault.application.ports.repositories import ScopeQuery, UnitOfWork
from memvault.application.ports.vector_store import VectorFilter, VectorStore
from memvault.application.shared.audit import audit_item
from memvault.application.shared.documents import document_item_id
from memvault.application.shared.nearest import nearest
from memvault.domain.audit import AuditOperation
from memvault.domain.decisions import Action, Candidate, Decision, Judgement, Relation, aggregate
from memvault.domain.facts import Fact
from memvault.domain.jobs import ExtractPayload, FactOutcome
from memvault.domain.memory import MemoryItem, MemoryStatus, Scope

log = structlog.get_logger(__name__)


OUTCOME = {
    Action.ADD: "added",
    Action.UPDATE: "updated",
    Action.DELETE: "deleted+added",
    Action.NONE: "duplicate",
}
EXPIRED_REPLACED = "过期的相同记忆已被新事实替换"


class JudgeFailed(RuntimeError):
    """The relation judge could not compare a fact with a memory: the attempt fails and
    the job retries, rather than guessing "unrelated" and adding a duplicate."""


AUDIT_PREFIX = {
    AuditOperation.CREATE: "决策层新增",
    AuditOperation.UPDATE: "决策层更新",
    AuditOperation.DELETE: "决策层删除",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """Where one fact's decision is applied: the write transaction, the job's payload
    and time, and the result that collects every changed item."""

    uow: UnitOfWork
    payload: ExtractPayload
    source_event_id: str | None
    now: datetime
    result: WriteResult
    sync_until: datetime | None = None
    """The deadline of the vector sync after commit, recorded with each item written."""


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
        metadata=dict(payload.metadata),
        occurred_at=payload.occurred_at,
    )


def outcome_of(fact: Fact, outcome: str, memory_id: int | None) -> FactOutcome:
    return FactOutcome(
        memory_type=fact.memory_type.value,
        title=fact.title,
        outcome=outcome,
        memory_id=memory_id,
    )


async def visible_by_hash(
    uow: UnitOfWork, fact: Fact, user_id: str, now: datetime
) -> list[MemoryItem]:
    """The user's visible items with the fact's hash: an expired one does not count."""
    same = await uow.items.find_by_hash(user_id, fact.memory_type, fact.content_hash)
    return [item for item in same if item.is_visible(now)]


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
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._embedder = embedder
        self._store = store
        self._judge = judge
        self._policy = policy

    async def decide(
        self, uow: UnitOfWork, facts: Sequence[Fact], payload: ExtractPayload, *, now: datetime
    ) -> list[tuple[Fact, Decision]]:
        """Recall and judge each fact, reading only: the slow calls (embedder, LLM judge)
        happen here, so a read-only unit of work keeps them out of the write transaction.
        A decision that fails (the judge, the database) raises: the job retries."""
        decided: list[tuple[Fact, Decision]] = []
        for fact in facts:
            try:
                decided.append((fact, await self._decide(uow, fact, payload.user_id, now)))
            except Exception:
                self._metrics.count(Metric.DECISION_TOTAL, action="unknown", status="error")
                raise
        return decided

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
        """Apply the decisions in ``uow``'s transaction, one SAVEPOINT per fact. A target
        that is no longer active makes that fact fail alone."""
        result = WriteResult(request_id=payload.trace_id)
        for fact, decision in decided:
            change = Change(
                uow=uow,
                payload=payload,
                source_event_id=source_event_id,
                now=now,
                result=result,
                sync_until=sync_until,
            )
            written = len(result.changed)
            try:
                async with uow.savepoint():
                    action = await self._apply(change, fact, decision)
            except Exception as error:  # one fact's failure never spoils the others
                log.warning("fact_skipped", fact_type=fact.memory_type, error=str(error))
                self._metrics.count(Metric.DECISION_TOTAL, action="unknown", status="error")
                del result.changed[written:]
                result.outcomes.append(outcome_of(fact, "failed", None))
                continue
            result.actions.append(action)
            added = [i.id for i in result.changed[written:] if i.status is MemoryStatus.ACTIVE]
            result.outcomes.append(outcome_of(fact, OUTCOME[action], added[-1] if added else None))
            self._metrics.count(Metric.DECISION_TOTAL, action=action.value, status="ok")
        return result

    async def _decide(self, uow: UnitOfWork, fact: Fact, user_id: str, now: datetime) -> Decision:
        if await visible_by_hash(uow, fact, user_id, now):
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

    async def _apply(self, change: Change, fact: Fact, decision: Decision) -> Action:
        if decision.action is Action.NONE:
            return Action.NONE
        user_id = change.payload.user_id
        if await visible_by_hash(change.uow, fact, user_id, change.now):
            return Action.NONE
        target, judgement = decision.target, decision.judgement
        if decision.action is Action.UPDATE and target and judgement:
            await self._update(change, fact, target, judgement, decision.reason)
            return Action.UPDATE
        if decision.action is Action.DELETE and target:
            await self._delete(change, target, decision.reason)
            await self._add(change, fact, "冲突旧记忆已删除，写入新事实")
            return Action.DELETE
        await self._add(change, fact, decision.reason)
        return Action.ADD

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
        except Exception as error:  # never guessed as unrelated: the job retries
            log.warning("judge_failed", memory_id=candidate.item.id, error=str(error))
            raise JudgeFailed(f"{type(error).__name__}: {error}") from error
        if judgement.relation is Relation.UPDATE and not judgement.updated_content.strip():
            return None
        return judgement

    async def _recall(
        self, uow: UnitOfWork, fact: Fact, user_id: str, now: datetime
    ) -> list[Candidate]:
        """Vector candidates above the minimum score, then recent items from the database.

        With no visible item of the fact's type there is no candidate to recall, so the
        fact is not embedded here: the model stays off the job's critical path (the
        vector sync embeds the new memory after commit)."""
        top_k = self._policy.candidate_top_k
        recent = await uow.items.scope(
            ScopeQuery(
                user_id=user_id, now=now, memory_types=frozenset({fact.memory_type}), limit=top_k
            )
        )
        if not recent:
            return []
        fact_vector, scores = await self._vector_scores(fact, user_id)
        by_id = {
            item.id: item
            for item in await uow.items.get_many(user_id, list(scores)[:top_k])
            if item.id is not None and item.is_visible(now)
        }
        for item in recent:
            if item.id is not None:
                by_id.setdefault(item.id, item)
        items = list(by_id.values())
        similarities = await self._similarities(fact_vector, items)
        return [
            Candidate(item=item, score=scores.get(item.id or 0, 0.0), similarity=similarity)
            for item, similarity in zip(items, similarities, strict=True)
        ]

    async def _vector_scores(
        self, fact: Fact, user_id: str
    ) -> tuple[Vector | None, dict[int, float]]:
        """The fact's vector and, by item id, the scores of the user's items of the same
        type at or above the minimum score. When the vector side fails the scores are
        empty, and the vector is ``None`` unless the embedder had produced it."""
        scores: dict[int, float] = {}
        fact_vector: Vector | None = None
        try:
            (fact_vector,) = await self._embedder.embed_documents([fact.content])
            hits = await nearest(
                self._store,
                self._embedder.dimension,
                fact_vector,
                limit=self._policy.candidate_top_k * 2,
                where=VectorFilter(
                    user_id=user_id, memory_types=frozenset({fact.memory_type.value})
                ),
            )
        except Exception as error:  # recall falls back to the database alone
            log.warning("decision_recall_degraded", error=str(error))
            self._metrics.count(Metric.DECISION_FALLBACK_TOTAL, mode="rag_to_mysql")
            return fact_vector, scores
        for hit in hits:
            item_id = document_item_id(hit.document_id)
            if item_id is not None and hit.score >= self._policy.candidate_min_score:
                scores.setdefault(item_id, hit.score)
        return fact_vector, scores

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

    async def _add(self, change: Change, fact: Fact, reason: str) -> None:
        expired = await change.uow.items.find_by_hash(
            change.payload.user_id, fact.memory_type, fact.content_hash
        )
        for old in expired:  # only expired ones are left: a visible one made this NONE
            if old.id is not None and old.is_expired(change.now):
                await self._delete(
                    change, Candidate(item=old, score=0.0, similarity=None), EXPIRED_REPLACED
                )
        item = new_item(
            fact, change.payload, source_event_id=change.source_event_id, now=change.now
        )
        await change.uow.items.add(item, sync_until=change.sync_until)
        await self._record(change, item, AuditOperation.CREATE, reason, None)

    async def _update(
        self, change: Change, fact: Fact, target: Candidate, judgement: Judgement, reason: str
    ) -> None:
        item = await self._locked(change.uow, target)
        before = item.snapshot()
        item.replace_text(
            title=judgement.updated_title or fact.title,
            content=judgement.updated_content or fact.content,
            confidence=fact.confidence,
            importance=fact.importance,
            now=change.now,
        )
        await change.uow.items.update(item, sync_until=change.sync_until)
        await self._record(change, item, AuditOperation.UPDATE, reason, before)

    async def _delete(self, change: Change, target: Candidate, reason: str) -> None:
        item = await self._locked(change.uow, target)
        before = item.snapshot()
        item.delete(now=change.now)
        await change.uow.items.update(item, sync_until=change.sync_until)
        await self._record(change, item, AuditOperation.DELETE, reason, before)

    @staticmethod
    async def _record(
        change: Change,
        item: MemoryItem,
        operation: AuditOperation,
        reason: str,
        before: dict[str, object] | None,
    ) -> None:
        """Audit the change under the job's auditor (the API key that sent the turn, else
        the system with the request id; reason prefixed as upstream does) and keep the item
        for re-indexing after commit."""
        prefix = AUDIT_PREFIX[operation]
        await audit_item(
            change.uow,
            item=item,
            operation=operation,
            operator=change.payload.auditor.type,
            operator_id=change.payload.auditor.id,
            reason=f"{prefix}: {reason}",
            default_reason=prefix,
            before=before,
            after=None if operation is AuditOperation.DELETE else item.snapshot(),
            now=change.now,
        )
        change.result.changed.append(item)

    @staticmethod
    async def _locked(uow: UnitOfWork, target: Candidate) -> MemoryItem:
        item = await uow.items.get(target.item.user_id, target.item.id or 0, for_update=True)
        if item is None or item.status is not MemoryStatus.ACTIVE:
            raise LookupError(f"memory {target.item.id} is no longer active")
        return item
