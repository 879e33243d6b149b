"""The LLM relation judge: one new fact against one old memory (docs/behaviour.md, "Decisions")."""

from __future__ import annotations

from typing import Any

import structlog

from memvault.adapters.llm.client import LLMClient, LLMError
from memvault.adapters.llm.prompts import JUDGE_SYSTEM_PROMPT
from memvault.application.ports.relation_judge import (
    Comparison,
    JudgeError,
    Judgement,
    Relation,
    RelationJudge,
)

_log = structlog.get_logger(__name__)

JUDGE_MAX_TOKENS = 600
JUDGE_TEMPERATURE = 0.1


class LLMRelationJudge(RelationJudge):
    """Asks the model whether a new fact duplicates, updates, contradicts or is unrelated.

    Validation: the relation must be one of the four; ``update`` must carry a non-empty
    ``updated_content`` (the full merged text). Any other relation comes back with empty
    ``updated_content`` and ``updated_title``. A failed call or an answer that fails
    validation raises :class:`JudgeError`.
    """

    def __init__(self, client: LLMClient) -> None:
        self._client = client

    async def judge(self, comparison: Comparison) -> Judgement:
        try:
            answer = await self._client.complete_json(
                JUDGE_SYSTEM_PROMPT,
                user_prompt(comparison),
                max_tokens=JUDGE_MAX_TOKENS,
                temperature=JUDGE_TEMPERATURE,
            )
            return judgement_from(answer)
        except (LLMError, JudgeError) as error:
            _log.warning("llm_judge_failed", model=self._client.model, reason=str(error))
            raise JudgeError(str(error)) from error


def user_prompt(comparison: Comparison) -> str:
    return (
        f"新事实：【{comparison.fact_type}】{comparison.fact_content}\n"
        f"旧记忆：【{comparison.memory_type}】{comparison.memory_content}"
    )


def judgement_from(answer: dict[str, Any]) -> Judgement:
    """The validated judgement; JudgeError names what is wrong with the answer."""
    raw = _text(answer.get("relation")).lower()
    try:
        relation = Relation(raw)
    except ValueError:
        raise JudgeError(f"LLM judge answered an unknown relation {raw!r}") from None
    reason = _text(answer.get("reason"))
    if relation is not Relation.UPDATE:
        return Judgement(relation=relation, reason=reason)
    content = _text(answer.get("updated_content"))
    if not content:
        raise JudgeError("LLM judge answered 'update' without updated_content")
    return Judgement(
        relation=relation,
        updated_content=content,
        updated_title=_text(answer.get("updated_title")),
        reason=reason,
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
