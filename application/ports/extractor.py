"""The extractor port: which facts about the user a message states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from memvault.domain.facts import CandidateFact


class ExtractionError(Exception):
    """Extraction failed in a way worth retrying (timeout, malformed model output)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtractionRequest:
    user_id: str
    conversation_id: str
    text: str
    role: str = "user"
    occurred_at: datetime
    assistant_id: str | None = None
    run_id: str | None = None


class Extractor(Protocol):
    """Proposes facts worth remembering from one user message.

    Contract: chit-chat, task requests and knowledge questions give ``[]``; at most 3
    candidates; failures raise :class:`ExtractionError` (never a silent ``[]``).
    """

    async def extract(self, request: ExtractionRequest) -> list[CandidateFact]: ...
