"""The relation judge port: how a new fact relates to one existing memory (reference §6.6)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Relation(StrEnum):
    DUPLICATE = "duplicate"
    """Same meaning, no new information."""
    UPDATE = "update"
    """A correction, supplement or more precise statement; ``updated_content`` merges both."""
    CONFLICT = "conflict"
    """Contradicts the old memory on the same topic; the old one is outdated."""
    UNRELATED = "unrelated"


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    fact_type: str
    fact_content: str
    memory_type: str
    memory_content: str
    similarity: float | None = None
    """Cosine similarity of the two texts when the embedder produced one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    relation: Relation
    updated_content: str = ""
    updated_title: str = ""
    reason: str = ""


class JudgeError(Exception):
    """The judge could not answer (timeout, malformed output)."""


class RelationJudge(Protocol):
    """Classifies the relation of one new fact to one existing memory.

    Contract: ``UPDATE`` comes with a non-empty ``updated_content`` (the full merged
    text); failures raise :class:`JudgeError` and the caller treats that candidate as
    unrelated.
    """

    async def judge(self, comparison: Comparison) -> Judgement: ...
