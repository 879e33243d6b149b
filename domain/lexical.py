"""Terms for the lexical index: English words and Chinese character n-grams.

Latin-script text is lower-cased and split into words (a trailing plural "s" is
dropped, common function words are skipped); each run of CJK characters gives its
single characters and its character bigrams, so Chinese matches without a segmenter.
"""

from __future__ import annotations

import re
from collections import Counter

WORD = re.compile(r"[0-9a-zà-öø-ÿ]+(?:'[a-z]+)?", re.IGNORECASE)
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "do",
        "does",
        "did",
        "for",
        "from",
        "has",
        "have",
        "i",
        "i'm",
        "im",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "user",
        "about",
        "any",
        "can",
        "could",
        "should",
        "would",
        "just",
        "really",
        "very",
        "also",
    ]
)
MAX_TERM = 64


def _stem(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Every term of ``text``, in order, with repeats."""
    found: list[str] = []
    lowered = text.lower()
    for match in WORD.finditer(lowered):
        word = _stem(match.group(0))
        if word and word not in STOPWORDS:
            found.append(word[:MAX_TERM])
    for run in CJK.findall(text):
        found.extend(run)
        found.extend(run[i : i + 2] for i in range(len(run) - 1))
    return found


def term_counts(text: str) -> Counter[str]:
    return Counter(terms(text))
