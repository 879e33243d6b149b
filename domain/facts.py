"""Facts proposed by an extractor, and their normalisation (docs/behaviour.md, "Extraction")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from memvault.domain.jobs import FactOutcome
from memvault.domain.memory import (
    DEFAULT_IMPORTANCE,
    FACT_TTL,
    MAX_EXTRACTED_CONTENT,
    MAX_EXTRACTED_TITLE,
    MemoryType,
    clamp_sensitivity,
    content_hash,
)
from memvault.domain.secrets import SECRET_LEVEL, holds_secret
from memvault.domain.settings import MemorySettings
from memvault.domain.text import clamp01, collapse_whitespace, normalize_content, truncate_runes

MAX_FACTS_PER_MESSAGE = 3
DEFAULT_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateFact:
    """What an extractor proposes, before normalisation. Types are still raw strings."""

    memory_type: str
    content: str
    title: str = ""
    confidence: float = 0.0
    importance: float = 0.0
    sensitivity_level: int = 0
    is_explicit: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Fact:
    """A normalised fact, ready for the decision step."""

    memory_type: MemoryType
    title: str
    content: str
    normalized_content: str
    content_hash: str
    confidence: float
    importance: float
    sensitivity_level: int
    is_explicit: bool

    def ttl_from(self, occurred_at: datetime) -> datetime | None:
        """Facts expire 180 days after the message; preferences and constraints never."""
        return occurred_at + FACT_TTL if self.memory_type is MemoryType.FACT else None

    def allowed_by(self, settings: MemorySettings) -> bool:
        return settings.allows(is_explicit=self.is_explicit, sensitivity=self.sensitivity_level)


def graded_sensitivity(candidate: CandidateFact, content: str, title: str) -> int:
    """Level 2 means a secret, by one rule whoever graded the fact (docs/behaviour.md,
    "Secrets"): the rule-based extractor and the LLM agree because the rule decides."""
    if holds_secret(content) or holds_secret(title):
        return SECRET_LEVEL
    return min(clamp_sensitivity(candidate.sensitivity_level), SECRET_LEVEL - 1)


def normalize_fact(candidate: CandidateFact) -> Fact | None:
    """One candidate through the normalisation steps; ``None`` when it must be dropped."""
    kind = MemoryType.parse(candidate.memory_type)
    content = truncate_runes(collapse_whitespace(candidate.content), MAX_EXTRACTED_CONTENT)
    if kind is None or not content:
        return None
    title = collapse_whitespace(candidate.title) or content
    confidence = clamp01(candidate.confidence) or 0.6
    importance = clamp01(candidate.importance) or DEFAULT_IMPORTANCE[kind]
    return Fact(
        memory_type=kind,
        title=truncate_runes(title, MAX_EXTRACTED_TITLE),
        content=content,
        normalized_content=normalize_content(content),
        content_hash=content_hash(kind, content),
        confidence=confidence,
        importance=importance,
        sensitivity_level=graded_sensitivity(candidate, content, title),
        is_explicit=candidate.is_explicit,
    )


def normalize_facts(candidates: Iterable[CandidateFact]) -> list[Fact]:
    """Normalise, then drop in-batch duplicates (first occurrence wins), at most 3 facts."""
    facts: list[Fact] = []
    seen: set[str] = set()
    for candidate in candidates:
        fact = normalize_fact(candidate)
        if fact is None or fact.content_hash in seen:
            continue
        seen.add(fact.content_hash)
        facts.append(fact)
    return facts[:MAX_FACTS_PER_MESSAGE]


def filter_facts(
    facts: Iterable[Fact], settings: MemorySettings, *, min_confidence: float
) -> list[Fact]:
    """Settings filter, then the confidence floor (a floor of 0 or less disables it)."""
    return sift_facts(facts, settings, min_confidence=min_confidence)[0]


def sift_facts(
    facts: Iterable[Fact], settings: MemorySettings, *, min_confidence: float
) -> tuple[list[Fact], list[FactOutcome]]:
    """:func:`filter_facts`, with the ``skipped: …`` outcome of each fact it drops."""
    kept: list[Fact] = []
    skipped: list[FactOutcome] = []
    for fact in facts:
        why = settings.refusal(is_explicit=fact.is_explicit, sensitivity=fact.sensitivity_level)
        if why is None and min_confidence > 0 and fact.confidence < min_confidence:
            why = "skipped: low confidence"
        if why is None:
            kept.append(fact)
            continue
        secret = fact.sensitivity_level >= SECRET_LEVEL
        skipped.append(
            FactOutcome(
                memory_type=fact.memory_type.value,
                title=None if secret else fact.title,
                outcome=why,
            )
        )
    return kept, skipped
