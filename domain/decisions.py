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

from memvault.domain.memory import MemoryItem


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
    """Priority duplicate > update > conflict > unrelated: any duplicate → NONE; any
    update → UPDATE the best-scored one (the first of equals); any conflict → DELETE the
    first conflicting one, then ADD; otherwise ADD."""
    if not judged:
        return Decision(action=Action.ADD, reason="无相关旧记忆，直接新增")
    duplicate = _first(judged, Relation.DUPLICATE)
    if duplicate is not None:
        candidate, judgement = duplicate
        return Decision(
            action=Action.NONE,
            target=candidate,
            judgement=judgement,
            reason=f"存在完全重复的旧记忆(id={candidate.item.id})，跳过写入: {judgement.reason}",
        )
    updates = [(c, j) for c, j in judged if j.relation is Relation.UPDATE]
    if updates:
        candidate, judgement = max(updates, key=lambda pair: pair[0].score)
        return Decision(
            action=Action.UPDATE,
            target=candidate,
            judgement=judgement,
            reason=f"更新旧记忆(id={candidate.item.id}): "
            f"{judgement.reason or '新事实是对旧记忆的修正或补充'}",
        )
    conflict = _first(judged, Relation.CONFLICT)
    if conflict is not None:
        candidate, judgement = conflict
        return Decision(
            action=Action.DELETE,
            target=candidate,
            judgement=judgement,
            reason=f"旧记忆(id={candidate.item.id})与新事实冲突，删除后新增: {judgement.reason}",
        )
    return Decision(action=Action.ADD, reason="与候选旧记忆均无关，直接新增")


def _first(
    judged: Sequence[tuple[Candidate, Judgement]], relation: Relation
) -> tuple[Candidate, Judgement] | None:
    return next(((c, j) for c, j in judged if j.relation is relation), None)
