"""What one rule is: a statement shape, anchored at the start of a clause.

A rule reads a clause with contractions expanded ("I'm" → "I am", "don't" → "do not"),
so each pattern needs one spelling. Its ``subject`` group names what the title shows
("Name: Priya", "过敏：花生"); for secrets it names the kind ("Credential: password"),
never the value. A rule may refuse some subjects ("don't worry" is no instruction).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memvault.domain.memory import MemoryType
from memvault.domain.polarity import expand_contractions

MAX_TITLE_SUBJECT = 40

_CJK = re.compile(r"[\u3400-\u9fff]")
_EN_SUBJECT_CLAUSE = re.compile(
    r"[\s,]+(?:because|since|so|but|which|who|where|when|and\s+i|for\s+(?:a|an|the|my))\b.*$",
    re.IGNORECASE,
)
_EN_SUBJECT_TAIL = re.compile(
    r"(?:\s+(?:originally|now|currently|at\s+the\s+moment|these\s+days|anymore))+$",
    re.IGNORECASE,
)
_EDGE = re.compile(r"^[^\w$€£¥]+|[^\w+#%)]+$")
_ZH_PARTICLES = re.compile(r"[了啦呢啊呀哦哈吧嘛～~]+$")
_EN_ARTICLE = re.compile(r"^(?:a|an|the)\s+(?=\S)", re.IGNORECASE)
_LONE_I = re.compile(r"(?<![\w'’-])i(?=[\s'’]|$)")
_DEICTIC = re.compile(
    r"^(?:it|that|this|these|those|them|you|him|her|me)$|^(?:你|您|他|她|它|这|那|了$)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    """What a clause says, before explicitness and sensitivity are added."""

    memory_type: MemoryType
    title: str
    content: str
    confidence: float
    subject: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A statement shape and what it means.

    ``instruction`` marks a request about the assistant's behaviour ("never use emojis"):
    the caller checks it is standing rather than a detail of the task at hand.
    """

    pattern: re.Pattern[str]
    memory_type: MemoryType
    label: str
    confidence: float = 0.8
    refuse: re.Pattern[str] | None = None
    instruction: bool = False

    def read(self, clause: str, *, expanded: str | None = None) -> Statement | None:
        """The statement ``clause`` makes, if it has this shape.

        ``expanded`` is ``expand_contractions(clause)``, when the caller already has it.
        """
        match = self.pattern.match(expand_contractions(clause) if expanded is None else expanded)
        if match is None:
            return None
        said = (match.group("subject") or "").strip()
        subject = title_subject(said)
        if not subject or (self.refuse is not None and self.refuse.match(said)):
            return None
        content = polish(clause)
        # An instruction's title is the instruction itself: "Rule: Never use emojis …".
        shown = shorten(_EDGE.sub("", content)) if self.instruction else subject
        return Statement(
            memory_type=self.memory_type,
            title=titled(self.label, shown),
            content=content,
            confidence=self.confidence,
            subject=said,
        )


def title_subject(text: str) -> str:
    """The subject as a title shows it: no article, trailing clause, particle or punctuation."""
    text = _EN_SUBJECT_TAIL.sub("", _EN_SUBJECT_CLAUSE.sub("", text.strip()))
    text = _EDGE.sub("", text)
    text = _ZH_PARTICLES.sub("", _EN_ARTICLE.sub("", text))
    return "" if _DEICTIC.match(text) else shorten(text)


def shorten(text: str) -> str:
    """At most ``MAX_TITLE_SUBJECT`` characters, cut between words where there are words."""
    if len(text) <= MAX_TITLE_SUBJECT:
        return text
    cut = text[:MAX_TITLE_SUBJECT]
    head = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return head.rstrip(" ,;:")


def polish(content: str) -> str:
    """English gets a capital first letter and a capital "I"; Chinese stays as written."""
    content = _LONE_I.sub("I", content)
    return content[:1].upper() + content[1:]


def titled(label: str, subject: str) -> str:
    """``Label: subject``, with the full-width colon after a Chinese label."""
    separator = "：" if _CJK.search(label) else ": "
    return f"{label}{separator}{subject}"


def compile_en(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)
