"""Cutting a message into clauses, the unit every extraction rule reads.

Rules:
- Sentences end at ``. ! ? ;`` followed by a space or the end (so "3.5", "e.g." and
  "St. Mary's" stay whole), at ``。！？；…`` and at line breaks. Question marks stay on
  the clause, which is how questions are recognised later.
- A sentence is cut again at a comma (or "and"/"but"/"so", "而且"/"但是"/"不过") only when
  what follows starts a new statement ("…, I prefer aisle seats", "…，我对海鲜过敏");
  "I like sushi, ramen and tempura" stays one clause.
- Leading fillers ("btw", "oh and", "honestly", "对了", "其实") are dropped, so rules can
  anchor at the start of the statement itself.
- Only the first 4000 characters are read, and clauses over 300 characters are skipped.
"""

from __future__ import annotations

import re

MAX_SCAN_CHARS = 4000
"""Only the start of a very long message is read; it keeps the extractor fast."""
MAX_CLAUSE_CHARS = 300
"""A longer clause is pasted text (an article, code), not a statement about the user."""

# A period after a title ("St. Mary's", "Dr. Lee") or "e.g." does not end a sentence.
_SENTENCE_END = re.compile(
    r"(?<=[.!?;])(?<!\b[SDM][trs]\.)(?<!\bMrs\.)(?<!\be\.g\.)(?<!\bi\.e\.)\s+"
    r"|(?<=[。！？；…!?;])|[\r\n]+"
)
_EN_STARTER = (
    r"(?:i|i'm|i’m|im|i've|i'd|my|me|please|pls|never|always|don't|do not|from now on|"
    r"remember|btw|also|but|and|so|oh|call me|what|why|how|where|when|who|which|do|does|"
    r"did|can|could|would|will|is|are|by the way|anyway|plus|actually|going forward|"
    r"whenever|every time|note|keep in mind|no)\b"
)
_ZH_STARTER = (
    r"(?:我|请|不要|别|以后|今后|永远|每次|记住|帮我|另外|还有|对了|但是|不过|而且|并且|所以|"
    r"其实|顺便|从现在|你|千万|一定|麻烦|也)"
)
_CLAUSE_BREAK = re.compile(
    rf"\s*[,，]\s*(?=(?:{_EN_STARTER}|{_ZH_STARTER}))"
    rf"|,?\s+(?:and|but|so|plus)\s+(?=(?:i|i'm|i’m|my|please|never|always)\b)"
    r"|(?=(?:而且|并且|但是|不过|所以)我)",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(?:(?:oh\s+and|oh|and|but|so|also|plus|btw|by\s+the\s+way|actually|honestly|fyi|"
    r"just\s+so\s+you\s+know|for\s+the\s+record|to\s+be\s+honest|tbh|anyway|anyways|"
    r"one\s+more\s+thing|heads\s+up|hi|hey|hello|ugh|hmm+|yeah|yes|yep|no|nope|ok|okay|"
    r"well|lol|haha+)\b[\s,!.:;-]*"
    r"|(?:嗯+|哦+|噢|啊|哈+|对了|顺便说一下|顺便说下|顺便提一下|顺便|另外|还有|其实|说实话|"
    r"老实说|不过|但是|而且|并且|然后|所以|话说|好的|是的|你好|您好|嗨|哈喽)[，,。！!、~～\s]*)+",
    re.IGNORECASE,
)
_TRAILING = re.compile(r"[\s.,;:!~～。，；：！、…]+$")


def split_sentences(text: str) -> list[str]:
    """Sentences of the (start of the) message, blank ones dropped."""
    parts = _SENTENCE_END.split(text[:MAX_SCAN_CHARS])
    return [part.strip() for part in parts if part and part.strip()]


def split_clauses(sentence: str) -> list[str]:
    """Clauses of one sentence, fillers and trailing punctuation removed, blanks dropped."""
    clauses = (clean_clause(part) for part in _CLAUSE_BREAK.split(sentence))
    return [clause for clause in clauses if 0 < len(clause) <= MAX_CLAUSE_CHARS]


def clean_clause(text: str) -> str:
    """Without leading fillers or trailing punctuation ("?" is kept: it marks a question)."""
    text = _FILLER.sub("", text.strip())
    return _TRAILING.sub("", text)
