"""The relation judge port: how a new fact relates to one existing memory
(docs/behaviour.md, "Decisions")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from memvault.domain.decisions import Judgement, Relation

__all__ = ["Comparison", "JudgeError", "Judgement", "Relation", "RelationJudge"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    fact_type: str
    fact_content: str
    memory_type: str
    memory_content: str
    similarity: float | None = None
    """Cosine similarity of the two texts when the embedder produced one."""


class JudgeError(Exception):
    """The judge could not answer (timeout, malformed output)."""


class RelationJudge(Protocol):
    """Classifies the relation of one new fact to one existing memory.

    Contract: ``UPDATE`` comes with a non-empty ``updated_content`` (the full merged
    text); failures raise :class:`JudgeError` and the caller treats that candidate as
    unrelated.
    """

    async def judge(self, comparison: Comparison) -> Judgement: ...
