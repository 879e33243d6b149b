"""The offline relation judge (docs/adr/0004): no LLM, deterministic rules.

- same subject, opposite polarity ("I love sushi" / "I don't like sushi anymore") →
  conflict;
- same subject, same polarity, or a cosine similarity at or above the near-duplicate
  threshold (calibrated per embedder) → duplicate;
- anything else → unrelated. (Merging text into an ``update`` needs an LLM.)
"""

from __future__ import annotations

from memvault.application.ports.relation_judge import Comparison, Judgement, Relation, RelationJudge
from memvault.domain.polarity import read_stance


class DeterministicJudge(RelationJudge):
    def __init__(self, *, duplicate_threshold: float) -> None:
        self._threshold = duplicate_threshold

    async def judge(self, comparison: Comparison) -> Judgement:
        new, old = read_stance(comparison.fact_content), read_stance(comparison.memory_content)
        if new is not None and old is not None and new.key == old.key:
            if new.polarity != old.polarity:
                return Judgement(
                    relation=Relation.CONFLICT,
                    reason=f"opposite stance on the same subject ({new.subject})",
                )
            return Judgement(
                relation=Relation.DUPLICATE,
                reason=f"same stance on the same subject ({new.subject})",
            )
        similarity = comparison.similarity
        if similarity is not None and similarity >= self._threshold:
            return Judgement(
                relation=Relation.DUPLICATE,
                reason=f"near-duplicate (cosine {similarity:.3f} ≥ {self._threshold:.3f})",
            )
        return Judgement(relation=Relation.UNRELATED)
