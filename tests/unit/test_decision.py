"""The deterministic half of the decision step: aggregating the judgements of one fact
(docs/behaviour.md, "Decisions") and the offline relation judge (docs/adr/0004)."""

from __future__ import annotations

import pytest

from memvault.application.extraction.deterministic_judge import DeterministicJudge
from memvault.application.ports.relation_judge import Comparison, Judgement, Relation
from memvault.domain.decisions import Action, Candidate, Decision, aggregate
from memvault.domain.memory import MemoryItem, MemoryType

THRESHOLD = 0.9


def candidate(item_id: int, *, score: float = 0.0) -> Candidate:
    item = MemoryItem(
        id=item_id,
        user_id="u-1",
        memory_type=MemoryType.PREFERENCE,
        title=f"memory {item_id}",
        content=f"memory {item_id}",
    )
    return Candidate(item=item, score=score, similarity=None)


def target_id(decision: Decision) -> int | None:
    return decision.target.item.id if decision.target is not None else None


def judged(relation: Relation, reason: str = "", content: str = "") -> Judgement:
    return Judgement(relation=relation, reason=reason, updated_content=content)


DUPLICATE = judged(Relation.DUPLICATE, "same meaning")
UPDATE = judged(Relation.UPDATE, "more precise", "merged text")
CONFLICT = judged(Relation.CONFLICT, "changed her mind")
UNRELATED = judged(Relation.UNRELATED)


# --- aggregation --------------------------------------------------------------------------


def test_a_fact_without_related_memories_is_added() -> None:
    decision = aggregate([])

    assert decision.action is Action.ADD
    assert decision.target is None
    assert decision.reason == "无相关旧记忆，直接新增"


def test_a_fact_unrelated_to_every_candidate_is_added() -> None:
    decision = aggregate([(candidate(1), UNRELATED), (candidate(2), UNRELATED)])

    assert (decision.action, target_id(decision)) == (Action.ADD, None)


def test_a_duplicate_wins_over_an_update_and_a_conflict() -> None:
    decision = aggregate(
        [(candidate(1), CONFLICT), (candidate(2, score=0.9), UPDATE), (candidate(3), DUPLICATE)]
    )

    assert decision.action is Action.NONE
    assert target_id(decision) == 3


def test_an_update_wins_over_a_conflict() -> None:
    decision = aggregate([(candidate(1), CONFLICT), (candidate(2), UPDATE)])

    assert decision.action is Action.UPDATE
    assert target_id(decision) == 2
    assert decision.judgement == UPDATE
    assert decision.reason == "更新旧记忆(id=2): more precise"


def test_an_update_targets_the_candidate_with_the_highest_recall_score() -> None:
    decision = aggregate(
        [
            (candidate(1, score=0.0), UPDATE),
            (candidate(2, score=0.8), UPDATE),
            (candidate(3, score=0.7), UPDATE),
        ]
    )

    assert target_id(decision) == 2


@pytest.mark.parametrize("score", [0.0, 0.75])
def test_an_update_tie_on_score_keeps_the_first_candidate(score: float) -> None:
    decision = aggregate([(candidate(1, score=score), UPDATE), (candidate(2, score=score), UPDATE)])

    assert target_id(decision) == 1


def test_an_update_without_a_reason_gets_the_default_one() -> None:
    decision = aggregate([(candidate(4), judged(Relation.UPDATE, content="merged"))])

    assert decision.reason == "更新旧记忆(id=4): 新事实是对旧记忆的修正或补充"


def test_a_conflict_deletes_the_first_conflicting_candidate() -> None:
    decision = aggregate(
        [(candidate(1), UNRELATED), (candidate(2), CONFLICT), (candidate(3, score=0.9), CONFLICT)]
    )

    assert decision.action is Action.DELETE
    assert target_id(decision) == 2
    assert decision.reason == "旧记忆(id=2)与新事实冲突，删除后新增: changed her mind"


# --- the offline judge ---------------------------------------------------------------------


async def judge(new: str, old: str, *, similarity: float | None = None) -> Judgement:
    return await DeterministicJudge(duplicate_threshold=THRESHOLD).judge(
        Comparison(
            fact_type="preference",
            fact_content=new,
            memory_type="preference",
            memory_content=old,
            similarity=similarity,
        )
    )


@pytest.mark.parametrize(
    ("new", "old"),
    [
        ("I don't like sushi anymore", "I love sushi"),
        ("I hate cilantro", "I really like cilantro"),
        ("我不再喜欢喝咖啡了", "我喜欢喝咖啡"),
    ],
)
async def test_the_opposite_stance_on_the_same_subject_is_a_conflict(new: str, old: str) -> None:
    judgement = await judge(new, old, similarity=0.95)

    assert judgement.relation is Relation.CONFLICT
    assert judgement.reason


@pytest.mark.parametrize(
    ("new", "old"),
    [
        ("Sushi is my favourite food", "I love sushi"),
        ("我特别喜欢绿茶", "我喜欢喝绿茶"),
        ("I can't stand cilantro", "I hate cilantro"),
    ],
)
async def test_the_same_stance_in_other_words_is_a_duplicate(new: str, old: str) -> None:
    judgement = await judge(new, old, similarity=0.1)

    assert judgement.relation is Relation.DUPLICATE


async def test_different_likes_in_the_same_category_are_unrelated() -> None:
    judgement = await judge("I love basketball", "I love singing", similarity=0.5)

    assert judgement.relation is Relation.UNRELATED


@pytest.mark.parametrize(
    ("similarity", "relation"),
    [(0.95, Relation.DUPLICATE), (THRESHOLD, Relation.DUPLICATE), (0.899, Relation.UNRELATED)],
)
async def test_statements_without_a_stance_are_duplicates_from_the_threshold_on(
    similarity: float, relation: Relation
) -> None:
    judgement = await judge(
        "I work at the Lyon hospital", "I work at Lyon hospital", similarity=similarity
    )

    assert judgement.relation is relation


async def test_without_a_similarity_statements_without_a_stance_are_unrelated() -> None:
    judgement = await judge("I work at the Lyon hospital", "I work at Lyon hospital")

    assert judgement.relation is Relation.UNRELATED


async def test_the_offline_judge_never_merges_text() -> None:
    judgement = await judge("I moved to Croix-Rousse in Lyon", "I live in Lyon", similarity=0.8)

    assert judgement.relation is Relation.UNRELATED
    assert (judgement.updated_content, judgement.updated_title) == ("", "")
