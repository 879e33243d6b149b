"""Fact normalisation and filtering (docs/behaviour.md, "Extraction") and the fact TTL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memvault.domain.facts import (
    DEFAULT_MIN_CONFIDENCE,
    CandidateFact,
    Fact,
    filter_facts,
    normalize_fact,
    normalize_facts,
    sift_facts,
)
from memvault.domain.memory import MemoryType
from memvault.domain.settings import MemorySettings

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def candidate(**overrides: Any) -> CandidateFact:
    fields: dict[str, Any] = {"memory_type": "preference", "content": "I like green tea"}
    fields.update(overrides)
    return CandidateFact(**fields)


def normalized(**overrides: Any) -> Fact:
    fact = normalize_fact(candidate(**overrides))
    assert fact is not None
    return fact


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("preference", MemoryType.PREFERENCE),
        (" Constraint ", MemoryType.CONSTRAINT),
        ("FACT", MemoryType.FACT),
    ],
)
def test_a_fact_type_is_trimmed_and_lower_cased(raw: str, expected: MemoryType) -> None:
    assert normalized(memory_type=raw).memory_type is expected


@pytest.mark.parametrize("raw", ["", "todo_hint", "opinion", "pref erence"])
def test_a_fact_of_an_unknown_type_is_dropped(raw: str) -> None:
    assert normalize_fact(candidate(memory_type=raw)) is None


@pytest.mark.parametrize("content", ["", "   ", "\n\t\u3000"])
def test_a_fact_without_content_is_dropped(content: str) -> None:
    assert normalize_fact(candidate(content=content)) is None


def test_fact_content_has_its_whitespace_collapsed() -> None:
    fact = normalized(content="  I   like\n\tgreen  tea ")
    assert fact.content == "I like green tea"


@pytest.mark.parametrize(("length", "kept"), [(999, 999), (1000, 1000), (1001, 1000)])
def test_fact_content_is_cut_to_1000_characters(length: int, kept: int) -> None:
    assert normalized(content="茶" * length).content == "茶" * kept


def test_fact_hash_is_sha256_of_type_and_lower_cased_content() -> None:
    fact = normalized(memory_type="Fact", content="  My  Dog is\nRex ")
    expected = hashlib.sha256(b"fact::my dog is rex").hexdigest()
    assert fact.normalized_content == "my dog is rex"
    assert fact.content_hash == expected


def test_the_same_text_under_another_type_hashes_differently() -> None:
    assert normalized(memory_type="fact").content_hash != normalized().content_hash


def test_a_fact_title_has_its_whitespace_collapsed() -> None:
    assert normalized(title="  Tea \n choice ").title == "Tea choice"


@pytest.mark.parametrize("title", ["", "   "])
def test_a_fact_without_a_title_takes_its_content_as_title(title: str) -> None:
    assert normalized(title=title, content="I like  green tea").title == "I like green tea"


def test_a_fact_title_is_cut_to_64_characters() -> None:
    assert normalized(title="t" * 65).title == "t" * 64
    assert normalized(title="t" * 64).title == "t" * 64


def test_a_title_taken_from_long_content_is_cut_to_64_characters() -> None:
    assert normalized(content="c" * 500).title == "c" * 64


@pytest.mark.parametrize(
    ("given", "expected"), [(0.0, 0.6), (-0.3, 0.6), (0.2, 0.2), (1.0, 1.0), (1.7, 1.0)]
)
def test_fact_confidence_is_clamped_and_zero_means_the_default(
    given: float, expected: float
) -> None:
    assert normalized(confidence=given).confidence == expected


@pytest.mark.parametrize(
    ("memory_type", "default"), [("preference", 0.85), ("constraint", 0.95), ("fact", 0.6)]
)
def test_fact_importance_of_zero_takes_the_type_default(memory_type: str, default: float) -> None:
    assert normalized(memory_type=memory_type, importance=0.0).importance == default
    assert normalized(memory_type=memory_type, importance=-1.0).importance == default


@pytest.mark.parametrize(("given", "expected"), [(0.3, 0.3), (1.0, 1.0), (2.5, 1.0)])
def test_fact_importance_is_clamped(given: float, expected: float) -> None:
    assert normalized(importance=given).importance == expected


@pytest.mark.parametrize(("given", "expected"), [(-4, 0), (0, 0), (1, 1), (2, 1), (9, 1)])
def test_fact_sensitivity_is_0_or_1_unless_the_secret_rule_says_2(
    given: int, expected: int
) -> None:
    assert normalized(sensitivity_level=given).sensitivity_level == expected


@pytest.mark.parametrize(
    "content", ["my bank card password is 4512", "我的银行卡密码是 884213", "id 110101199003071234"]
)
def test_a_secret_is_level_2_whatever_the_extractor_said(content: str) -> None:
    assert normalized(content=content, sensitivity_level=0).sensitivity_level == 2


def test_sifting_records_why_each_fact_was_left_out() -> None:
    defaults = MemorySettings(user_id="u")
    facts = [
        normalized(content="I am allergic to peanuts", sensitivity_level=1, is_explicit=True),
        normalized(content="I take insulin", sensitivity_level=1),
        normalized(content="my password is hunter2"),
    ]
    kept, skipped = sift_facts(facts, defaults, min_confidence=0.5)
    assert [f.content for f in kept] == ["I am allergic to peanuts"]
    assert [(o.outcome, o.title) for o in skipped] == [
        ("skipped: sensitive", "I take insulin"),
        ("skipped: secret", None),
    ]
    quiet = MemorySettings(user_id="u", implicit_memory_enabled=False)
    _, skipped = sift_facts(facts[1:2], quiet, min_confidence=0.5)
    assert [o.outcome for o in skipped] == ["skipped: implicit memory off"]


def test_a_fact_keeps_whether_it_was_stated_explicitly() -> None:
    assert normalized(is_explicit=True).is_explicit is True
    assert normalized().is_explicit is False


def test_duplicate_facts_in_one_batch_keep_the_first() -> None:
    facts = normalize_facts(
        [
            candidate(content="I like green tea", title="first"),
            candidate(content="  i LIKE green\ttea ", title="second"),
        ]
    )
    assert [f.title for f in facts] == ["first"]


def test_the_same_content_under_two_types_is_not_a_duplicate() -> None:
    facts = normalize_facts([candidate(), candidate(memory_type="fact")])
    assert [f.memory_type for f in facts] == [MemoryType.PREFERENCE, MemoryType.FACT]


def test_at_most_three_facts_are_kept_per_message_after_dropping_bad_and_duplicates() -> None:
    facts = normalize_facts(
        [
            candidate(content="one"),
            candidate(content="ONE"),
            candidate(memory_type="bogus", content="dropped"),
            candidate(content="   "),
            candidate(content="two"),
            candidate(content="three"),
            candidate(content="four"),
        ]
    )
    assert [f.content for f in facts] == ["one", "two", "three"]


def test_no_candidates_give_no_facts() -> None:
    assert normalize_facts([]) == []


def test_a_fact_expires_180_days_after_its_message() -> None:
    assert normalized(memory_type="fact").ttl_from(NOW) == NOW + timedelta(days=180)


@pytest.mark.parametrize("memory_type", ["preference", "constraint"])
def test_preferences_and_constraints_never_expire(memory_type: str) -> None:
    assert normalized(memory_type=memory_type).ttl_from(NOW) is None


EXPLICIT = normalized(content="explicit plain", is_explicit=True, confidence=0.9)
IMPLICIT = normalized(content="implicit plain", confidence=0.9)
SENSITIVE = normalized(content="implicit sensitive", sensitivity_level=1, confidence=0.9)
EXPLICIT_SENSITIVE = normalized(
    content="explicit sensitive", is_explicit=True, sensitivity_level=1, confidence=0.9
)
ALL = [EXPLICIT, IMPLICIT, SENSITIVE, EXPLICIT_SENSITIVE]


@pytest.mark.parametrize(
    ("settings", "kept"),
    [
        (MemorySettings(user_id="u1"), [EXPLICIT, IMPLICIT, EXPLICIT_SENSITIVE]),
        (MemorySettings(user_id="u1", memory_enabled=False, sensitive_memory_enabled=True), []),
        (
            MemorySettings(user_id="u1", implicit_memory_enabled=False),
            [EXPLICIT, EXPLICIT_SENSITIVE],
        ),
        (
            MemorySettings(
                user_id="u1", implicit_memory_enabled=False, sensitive_memory_enabled=True
            ),
            [EXPLICIT, EXPLICIT_SENSITIVE],
        ),
        (MemorySettings(user_id="u1", sensitive_memory_enabled=True), ALL),
    ],
    ids=["defaults", "memory-off", "implicit-off", "implicit-off-sensitive-on", "sensitive-on"],
)
def test_facts_are_kept_only_when_the_user_settings_allow_them(
    settings: MemorySettings, kept: list[Fact]
) -> None:
    assert filter_facts(ALL, settings, min_confidence=0) == kept


def test_the_default_confidence_floor_is_one_half() -> None:
    assert DEFAULT_MIN_CONFIDENCE == 0.5


@pytest.mark.parametrize(("confidence", "kept"), [(0.45, False), (0.5, True), (0.51, True)])
def test_facts_below_the_confidence_floor_are_dropped(confidence: float, kept: bool) -> None:
    fact = normalized(confidence=confidence)
    settings = MemorySettings(user_id="u1")
    result = filter_facts([fact], settings, min_confidence=DEFAULT_MIN_CONFIDENCE)
    assert result == ([fact] if kept else [])


@pytest.mark.parametrize("floor", [0.0, -1.0])
def test_a_confidence_floor_of_zero_or_less_keeps_every_confidence(floor: float) -> None:
    fact = normalized(confidence=0.01)
    assert filter_facts([fact], MemorySettings(user_id="u1"), min_confidence=floor) == [fact]
