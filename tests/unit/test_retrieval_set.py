"""The labelled retrieval set (tests/data/retrieval/) is what bench/retrieval.py says it is.

Its labels are checked against the lexical index's own terms: a ``paraphrase`` question
shares no term with its relevant memories (no English word, no Chinese character
bigram), a ``lexical`` one shares at least one with some relevant memory.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from bench.retrieval import Question, load_set, paired_difference, rank_of
from memvault.domain.lexical import CJK, terms
from memvault.domain.memory import MemoryType

MEMORIES, QUESTIONS = load_set()
BY_KEY = {memory.key: memory for memory in MEMORIES}


def words(text: str) -> set[str]:
    """Index terms without single Chinese characters (particles like 的 or 我)."""
    return {term for term in terms(text) if not (len(term) == 1 and CJK.match(term))}


def shared(question: Question) -> set[str]:
    return set().union(
        *(words(question.query) & words(BY_KEY[k].content) for k in question.relevant)
    )


def test_the_set_is_large_enough_and_bilingual():
    users = Counter(memory.user for memory in MEMORIES)
    assert len(MEMORIES) >= 300
    assert len(QUESTIONS) >= 100
    assert len(users) >= 6
    assert all(30 <= count <= 60 for count in users.values())
    assert {q.lang for q in QUESTIONS} == {"en", "zh"}
    assert {bool(CJK.search(m.content)) for m in MEMORIES} == {True, False}


def test_every_label_points_at_a_memory_of_the_same_user():
    assert len(BY_KEY) == len(MEMORIES)
    assert len({q.key for q in QUESTIONS}) == len(QUESTIONS)
    for question in QUESTIONS:
        assert question.relevant, question.key
        assert all(BY_KEY[key].user == question.user for key in question.relevant), question.key


def test_memories_carry_valid_attributes():
    for memory in MEMORIES:
        assert MemoryType.parse(memory.memory_type) is not None, memory.key
        assert min(memory.importance, memory.confidence) >= 0, memory.key
        assert max(memory.importance, memory.confidence) <= 1, memory.key
        assert 0 <= memory.age_days <= 365, memory.key


def test_paraphrases_share_no_term_and_lexical_questions_do():
    kinds = Counter(q.kind for q in QUESTIONS)
    assert kinds["paraphrase"] >= 30
    assert kinds["lexical"] >= 30
    for question in QUESTIONS:
        if question.kind == "paraphrase":
            assert not shared(question), question.key
        if question.kind == "lexical":
            assert shared(question), question.key


def test_the_grown_kinds_are_there_and_labelled_as_they_say():
    kinds = Counter(q.kind for q in QUESTIONS)
    assert kinds["temporal"] >= 30
    assert kinds["multi"] >= 15
    assert kinds["crosslingual"] + kinds["mixed"] >= 30
    for question in QUESTIONS:
        if question.kind == "multi":
            assert question.needs_all, question.key
            assert len(question.relevant) >= 2, question.key
        else:
            assert not question.needs_all, question.key
        if question.kind == "mixed":
            assert CJK.search(question.query), question.key
            assert re.search("[A-Za-z]", question.query), question.key
        if question.kind == "crosslingual":
            written = {
                "zh" if CJK.search(BY_KEY[key].content) else "en" for key in question.relevant
            }
            assert question.lang not in written, question.key


def test_a_question_needing_every_memory_ranks_at_the_last_one():
    one = Question("q", "u", "?", "en", "lexical", frozenset({"a", "b"}))
    both = Question("q", "u", "?", "en", "multi", frozenset({"a", "b"}), needs_all=True)
    assert rank_of(one, ["x", "b", "a"]) == 2
    assert rank_of(both, ["x", "b", "a"]) == 3
    assert rank_of(both, ["x", "b", "y"]) == 0
    assert rank_of(one, ["x", "y"]) == 0


def test_paired_difference_brackets_its_mean():
    mean, low, high = paired_difference([1, 1, 0, 3, 9], [0, 1, 0, 0, 2])
    assert mean == pytest.approx(0.2)  # hits at 5: 3 of 5 against 2 of 5
    assert low <= mean <= high
    assert paired_difference([1, 2], [1, 2]) == (0.0, 0.0, 0.0)
