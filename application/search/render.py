"""The block an agent pins into its prompt, within a token budget."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from memvault.domain.memory import MemoryItem, MemoryType
from memvault.domain.ranking import Scored

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


class RenderMode(StrEnum):
    FLAT = "flat"
    TYPED = "typed"


INTRO = {
    "zh": "以下是与当前对话相关的用户记忆，仅在自然且确实有帮助时参考，不要生硬复述。",
    "en": (
        "The following user memories relate to this conversation; use them only when "
        "natural and truly helpful, and do not recite them mechanically."
    ),
}
LABELS = {
    "zh": {MemoryType.PREFERENCE: "偏好", MemoryType.CONSTRAINT: "约束", MemoryType.FACT: "事实"},
    "en": {
        MemoryType.PREFERENCE: "preference",
        MemoryType.CONSTRAINT: "constraint",
        MemoryType.FACT: "fact",
    },
}
SECTIONS = {
    "zh": {
        MemoryType.CONSTRAINT: "必守约束",
        MemoryType.PREFERENCE: "用户偏好",
        MemoryType.FACT: "当前话题相关事实",
    },
    "en": {
        MemoryType.CONSTRAINT: "Constraints to respect",
        MemoryType.PREFERENCE: "User preferences",
        MemoryType.FACT: "Relevant facts",
    },
}
SECTION_ORDER = (MemoryType.CONSTRAINT, MemoryType.PREFERENCE, MemoryType.FACT)


def language_of(text: str) -> str:
    return "zh" if CJK.search(text) else "en"


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: one token per CJK character, one per four others."""
    cjk = len(CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


DATED_AFTER = timedelta(days=30)
"""An item said longer ago than this shows its month, so the agent can tell old from new."""


def when(item: MemoryItem, now: datetime | None) -> str:
    """`` (2024-03)`` for an item said more than 30 days before ``now``; else nothing."""
    said = item.said_at
    if now is None or said is None or now - said <= DATED_AFTER:
        return ""
    return f" ({said:%Y-%m})"


def render(
    hits: Sequence[Scored], mode: RenderMode, language: str, now: datetime | None = None
) -> str:
    if not hits:
        return ""
    lines = [INTRO[language]]
    seen: set[str] = set()
    if mode is RenderMode.FLAT:
        for hit in hits:
            label = LABELS[language][hit.item.memory_type]
            line = f"- [{label}] {hit.item.content or hit.item.title}{when(hit.item, now)}"
            if line not in seen:
                seen.add(line)
                lines.append(line)
        return "\n".join(lines)
    for kind in SECTION_ORDER:
        entries = []
        for hit in hits:
            key = f"{kind}::{hit.item.content}"
            if hit.item.memory_type is kind and key not in seen:
                seen.add(key)
                entries.append(f"- {hit.item.content or hit.item.title}{when(hit.item, now)}")
        if entries:
            lines.append(f"【{SECTIONS[language][kind]}】")
            lines.extend(entries)
    return "\n".join(lines)


def render_within(
    hits: Sequence[Scored],
    mode: RenderMode,
    language: str,
    max_tokens: int | None,
    now: datetime | None = None,
) -> tuple[str, list[Scored]]:
    """Drop the lowest-ranked items until the block fits ``max_tokens``."""
    kept = list(hits)
    text = render(kept, mode, language, now)
    while kept and max_tokens is not None and estimate_tokens(text) > max_tokens:
        kept.pop()
        text = render(kept, mode, language, now)
    return text, kept
