"""What to do with one extracted fact, given how it relates to the memories it recalls.

Pure policy, no I/O: a relation judge classifies each (fact, memory) pair, and
:func:`aggregate` turns those judgements into one decision (docs/behaviour.md,
"Decisions"): duplicate → NONE; update → UPDATE the best-scored candidate; conflict →
DELETE the first conflicting candidate, then ADD; otherwise ADD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.memory import MemoryItem


class Relation(StrEnum):
    DUPLICATE = "duplicate"
    """Same meaning, no new information."""
    UPDATE = "update"
    """A correction, supplement or more precise statement; ``updated_content`` merges both."""
    CONFLICT = "conflict"
    """Contradicts the old memory on the same topic; the old one is outdated."""
    UNRELATED = "unrelated"


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    relation: Relation
    updated_content: str = ""
    updated_title: str = ""
    reason: str = ""


class Action(StrEnum):
    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    NONE = "NONE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    item: MemoryItem
    score: float
    similarity: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    action: Action
    target: Candidate | None = None
    judgement: Judgement | None = None
    reason: str = ""


def aggregate(judged: Sequence[tuple[Candidate, Judgement]]) -> Decision:
    """Priority duplicate > update > conflict > unrelated."""
    if not judged:
        return Decision(action=Action.ADD, reason="无相关旧记忆，直接新增")
    for candidate, judgement in judged:
        if judgement.relation is Relation.DUPLICATE:
            return Decision(
                action=Action.NONE,
                target=candidate,
                judgement=judgement,
                reason=f"存在完全重复的旧记忆(id={candidate.item.id})，跳过写入: "
                f"{judgement.reason}",
            )
    updates = [(c, j) for c, j in judged if j.relation is Relation.UPDATE]
    if updates:
        best = updates[0]
        for candidate, judgement in updates[1:]:
            if candidate.score > best[0].score:
                best = (candidate, judgement)
        return Decision(
            action=Action.UPDATE,
            target=best[0],
            judgement=best[1],
            reason=f"更新旧记忆(id={best[0].item.id}): "
            f"{best[1].reason or '新事实是对旧记忆的修正或补充'}",
        )
    for candidate, judgement in judged:
        if judgement.relation is Relation.CONFLICT:
            return Decision(
                action=Action.DELETE,
                target=candidate,
                judgement=judgement,
                reason=f"旧记忆(id={candidate.item.id})与新事实冲突，删除后新增: "
                f"{judgement.reason}",
            )
    return Decision(action=Action.ADD, reason="与候选旧记忆均无关，直接新增")
