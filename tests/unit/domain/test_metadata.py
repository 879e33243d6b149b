"""Metadata rules, tokens, and their journey from a chat turn's payload to a memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memvault.application.extraction.write_memories import new_item
from memvault.domain.errors import InvalidValue
from memvault.domain.facts import Fact
from memvault.domain.jobs import ExtractPayload
from memvault.domain.memory import MemoryItem, MemoryType
from memvault.domain.metadata import (
    MAX_BYTES,
    filter_tokens,
    matches,
    require_metadata,
    token,
    tokens,
)
from memvault.domain.ranking import prior, recency

SAID = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad",
    [
        {"a": {"b": 1}},
        {"a": [1]},
        {"a": None},
        {"a": float("nan")},
        {f"k{n}": 1 for n in range(33)},
        {"k": "x" * MAX_BYTES},
        {"": 1},
        {"9lives": 1},
        {"a=b": 1},
        {"k" * 65: 1},
        ["a"],
    ],
)
def test_invalid_metadata_is_refused(bad: Any) -> None:
    with pytest.raises(InvalidValue):
        require_metadata(bad)


def test_the_limits_themselves_are_allowed() -> None:
    assert len(require_metadata({f"k{n}": n for n in range(32)})) == 32
    assert require_metadata(None) == {}
    assert require_metadata({"a.b-c_d": "x", "n": 1.5, "t": False}) == {
        "a.b-c_d": "x",
        "n": 1.5,
        "t": False,
    }


def test_tokens_compare_json_values() -> None:
    assert token("k", 1) == token("k", 1.0)
    assert token("k", 1) != token("k", "1")
    assert token("k", True) != token("k", 1)
    assert token("k", "x") != token("j", "x")
    assert len(token("k" * 64, "x" * 4000)) == 129
    assert matches({"a": 1, "b": "x"}, {"a": 1.0})
    assert not matches({"a": 1, "b": "x"}, {"a": 1, "b": "y"})
    assert filter_tokens({"a": 1, "b": "x"}) == frozenset(tokens({"b": "x", "a": 1}))


def test_a_turns_metadata_and_time_survive_the_payload_and_reach_the_memory() -> None:
    payload = ExtractPayload(
        user_id="u1",
        conversation_id="c1",
        source_role="user",
        source_text="I moved to Oslo",
        occurred_at=SAID,
        idempotency_key="k",
        metadata={"source": "slack", "n": 2},
    )
    again = ExtractPayload.from_json(payload.to_json())
    assert again == payload
    fact = Fact(
        memory_type=MemoryType.FACT,
        title="moved",
        content="Moved to Oslo",
        normalized_content="moved to oslo",
        content_hash="h",
        confidence=0.8,
        importance=0.6,
        sensitivity_level=0,
        is_explicit=False,
    )
    item = new_item(fact, again, source_event_id="e", now=SAID + timedelta(days=3))
    assert item.metadata == {"source": "slack", "n": 2}
    assert item.occurred_at == SAID
    assert item.said_at == SAID


def test_a_payload_with_bad_metadata_is_refused() -> None:
    text = (
        '{"user_id":"u","conversation_id":"c","source_role":"user","source_text":"x",'
        '"occurred_at":"2024-01-01T00:00:00Z","idempotency_key":"k","metadata":{"a":{"b":1}}}'
    )
    with pytest.raises(InvalidValue):
        ExtractPayload.from_json(text)


def test_recency_ranks_by_when_it_was_said_not_when_it_was_stored() -> None:
    now = SAID + timedelta(days=400)
    stored_now = {"created_at": now, "updated_at": now}
    said_long_ago = MemoryItem(
        user_id="u",
        memory_type=MemoryType.FACT,
        title="t",
        content="c",
        occurred_at=SAID,
        **stored_now,
    )
    said_now = MemoryItem(
        user_id="u",
        memory_type=MemoryType.FACT,
        title="t",
        content="c",
        occurred_at=now,
        **stored_now,
    )
    legacy = MemoryItem(
        user_id="u", memory_type=MemoryType.FACT, title="t", content="c", **stored_now
    )
    assert recency(said_long_ago, now) == 0.25
    assert recency(said_now, now) == 1.0
    assert recency(legacy, now) == 1.0
    assert prior(said_now, now) > prior(said_long_ago, now)
