"""The LLM extractor: the memory gatekeeper prompt and its answer.

Unlike the reference, a failed call is not hidden behind a fallback fact: malformed,
truncated or slow output raises :class:`ExtractionError` and the job is retried
(docs/adr/0004).
"""

from __future__ import annotations

import json
import math
from typing import Any

import structlog

from memvault.adapters.llm.client import LLMClient, LLMError
from memvault.adapters.llm.prompts import EXTRACT_SYSTEM_PROMPT, EXTRACT_USER_INSTRUCTION
from memvault.application.ports.extractor import ExtractionError, ExtractionRequest, Extractor
from memvault.domain.facts import MAX_FACTS_PER_MESSAGE, CandidateFact
from memvault.domain.memory import MemoryType, clamp_sensitivity
from memvault.domain.text import clamp01

_log = structlog.get_logger(__name__)

SKIP_INTENTS = frozenset({"chitchat", "task_request", "knowledge_qa"})
EXTRACT_MAX_TOKENS = 1200
DEFAULT_TEMPERATURE = 0.1
_TRUE_WORDS = frozenset({"true", "yes", "1"})


class LLMExtractor(Extractor):
    """Asks the model which facts one user message states.

    Rules: an empty message gives ``[]`` without a call; a skip intent
    (chit-chat, task request, knowledge question) gives ``[]``; facts with an unknown
    type or empty content are dropped; scores are clamped (confidence and importance to
    0..1, sensitivity to 0..2) and a missing score stays 0 for normalisation to fill;
    at most 3 facts are kept. ``system_prompt`` replaces the built-in gatekeeper prompt.
    """

    def __init__(
        self,
        client: LLMClient,
        *,
        temperature: float = DEFAULT_TEMPERATURE,
        system_prompt: str | None = None,
    ) -> None:
        self._client = client
        self._temperature = DEFAULT_TEMPERATURE if temperature <= 0 else min(temperature, 1.0)
        self._system_prompt = system_prompt or EXTRACT_SYSTEM_PROMPT

    async def extract(self, request: ExtractionRequest) -> list[CandidateFact]:
        if not request.text.strip():
            return []
        try:
            answer = await self._client.complete_json(
                self._system_prompt,
                user_prompt(request),
                max_tokens=EXTRACT_MAX_TOKENS,
                temperature=self._temperature,
            )
            facts = candidates_from(answer)
        except (LLMError, ExtractionError) as error:
            _log.warning(
                "llm_extraction_failed",
                conversation_id=request.conversation_id,
                model=self._client.model,
                reason=str(error),
            )
            raise ExtractionError(str(error)) from error
        return facts


def user_prompt(request: ExtractionRequest) -> str:
    """The fixed instruction, then the message and its scope as pretty-printed JSON."""
    payload: dict[str, str] = {
        "user_id": request.user_id,
        "conversation_id": request.conversation_id,
    }
    if request.assistant_id:
        payload["assistant_id"] = request.assistant_id
    if request.run_id:
        payload["run_id"] = request.run_id
    payload["source_role"] = request.role
    payload["source_text"] = request.text
    payload["occurred_at"] = request.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
    return EXTRACT_USER_INSTRUCTION + json.dumps(payload, ensure_ascii=False, indent=2)


def candidates_from(answer: dict[str, Any]) -> list[CandidateFact]:
    """The model's answer as at most 3 candidates; ExtractionError if it has no facts list."""
    intent = answer.get("message_intent")
    if isinstance(intent, str) and intent.strip().lower() in SKIP_INTENTS:
        return []
    facts = answer.get("facts")
    if not isinstance(facts, list):
        raise ExtractionError("LLM answer has no 'facts' list")
    candidates = (_candidate(item) for item in facts if isinstance(item, dict))
    return [fact for fact in candidates if fact is not None][:MAX_FACTS_PER_MESSAGE]


def _candidate(item: dict[str, Any]) -> CandidateFact | None:
    kind = MemoryType.parse(_text(item.get("memory_type")))
    content = _text(item.get("content")).strip()
    if kind is None or not content:
        return None
    return CandidateFact(
        memory_type=kind.value,
        content=content,
        title=_text(item.get("title")).strip(),
        confidence=clamp01(_number(item.get("confidence"))),
        importance=clamp01(_number(item.get("importance"))),
        sensitivity_level=clamp_sensitivity(round(_number(item.get("sensitivity_level")))),
        is_explicit=_flag(item.get("is_explicit")),
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float:
    """A JSON number or numeric string; anything else (or NaN) is 0."""
    if isinstance(value, bool):
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return value is True
