"""Likes and dislikes: which subject a statement is about, and which way it leans.

The offline decision step (docs/adr/0004) treats two memories about the same
subject with opposite polarity as a conflict: "I love sushi" then "I don't like sushi
anymore" deletes the old one and adds the new. This module reads that from text alone.

Rules:
- English and Chinese; first person ("I love sushi", "我喜欢寿司"), third person ("User
  loves sushi", "用户喜欢寿司") or no subject ("Loves sushi").
- A liking verb is +1, a disliking verb -1; a negation in front flips it ("I don't like",
  "我不再喜欢"), so "I don't hate X" reads as +1.
- "My favourite X is Y", "Y is my favourite", "我最喜欢的X是Y", "我的爱好是Y" are +1 about Y.
- The subject key is lower-cased, without articles, trailing time words ("anymore", "了")
  or a comparison tail ("tea over coffee" is about tea), so both statements of a conflict
  meet on the same key.
- Statements about someone else ("my friend loves sushi"), about a pronoun ("I love it",
  "我喜欢你"), about an option in the conversation ("I like the second one better") and
  wishes ("I would love to") are not preferences: ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LIKE = 1
DISLIKE = -1


@dataclass(frozen=True, slots=True, kw_only=True)
class Stance:
    """A like or dislike: ``subject`` as written, ``key`` for comparison, ``polarity`` ±1."""

    subject: str
    key: str
    polarity: int


_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"[’‘]", "'"),
        (r"\bcan't\b", "cannot"),
        (r"\bwon't\b", "will not"),
        (r"\b(\w+)n't\b", r"\1 not"),
        (r"\b(i)'m\b", r"\1 am"),
        (r"\b(i|you|we|they)'ve\b", r"\1 have"),
        (r"\b(i|you|we|they)'d\b", r"\1 would"),
        (r"\b(i|you|we|they)'ll\b", r"\1 will"),
        (r"\b(you|we|they)'re\b", r"\1 are"),
    )
)


def expand_contractions(text: str) -> str:
    """``I'm`` → ``I am``, ``don't`` → ``do not``, curly apostrophes straightened.

    Rules then need one spelling per verb form; the case of the text is kept.
    """
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


_EN_SUBJECT = r"(?:(?:the\s+)?user\s+|i\s+)?"
_EN_ADVERB = (
    r"(?:really|absolutely|totally|truly|just|also|still|actually|genuinely|honestly|"
    r"definitely|seriously|personally|generally|usually|mostly|especially|quite|kinda|"
    r"kind\s+of|sort\s+of|pretty\s+much|now|do|does|did|have|has|always|already|so|"
    r"secretly|strongly|much|even|ever|slowly|lately)\s+"
)
_EN_NEGATION = (
    r"(?P<neg>do\s+not|does\s+not|did\s+not|no\s+longer|never|not|cannot|will\s+not|"
    r"am\s+not|is\s+not|are\s+not|stopped)\s+"
)
_EN_BE = r"(?:(?:am|is|are)\s+)?"
_EN_LIKE = (
    r"love[sd]?|loving|like[sd]?|liking|adore[sd]?|enjoy(?:s|ed|ing)?|prefer(?:s|red)?|"
    r"fancy|fancies|dig|digs|would\s+rather|would\s+prefer|"
    + _EN_BE
    + r"(?:a\s+(?:big\s+|huge\s+|massive\s+|real\s+)?fan\s+of|into|obsessed\s+with|"
    r"crazy\s+about|fond\s+of|keen\s+on|passionate\s+about|addicted\s+to)"
)
_EN_DISLIKE = (
    r"hate[sd]?|hating|dislike[sd]?|detest(?:s|ed)?|loathe[sd]?|despise[sd]?|"
    r"cannot\s+stand|cannot\s+bear|(?:have\s+|has\s+)?(?:gone|went)\s+off|"
    + _EN_BE
    + r"(?:sick\s+of|tired\s+of|fed\s+up\s+with)"
)
_EN_VERB_STANCE = re.compile(
    rf"^{_EN_SUBJECT}(?:{_EN_ADVERB}){{0,4}}(?:{_EN_NEGATION})?(?:{_EN_ADVERB}){{0,4}}"
    rf"(?:(?P<like>{_EN_LIKE})|(?P<dislike>{_EN_DISLIKE}))\s+(?P<object>.+)$",
    re.IGNORECASE,
)
_EN_FAVOURITE = re.compile(
    r"^(?:my\s+|the\s+user's\s+|user's\s+)?(?:all-time\s+|absolute\s+)?(?:favou?rite|fave?)"
    r"\s+[\w\s-]{1,30}?\s+(?:is|are)\s+(?P<object>.+)$",
    re.IGNORECASE,
)
_EN_IS_FAVOURITE = re.compile(
    r"^(?P<object>.+?)\s+(?:is|are)\s+(?:my|the\s+user's)\s+(?:all-time\s+|absolute\s+)?"
    r"(?:favou?rite|fave?)\b",
    re.IGNORECASE,
)

_ZH_SUBJECT = r"(?:用户|我)?"
_ZH_ADVERB = (
    r"(?:现在|已经|真的|真心|很|非常|特别|超级|超|挺|还是|一直|也|都|其实|比较|更加|更|"
    r"有点儿?|有些|蛮|相当|十分|太|好|就|还|本来|向来|一向|总是|实在|最近|越来越|从小就?|"
    r"开始|最)"
)
_ZH_NEGATION = (
    r"(?P<neg>再也不|不再|一点也不|一点都不|不太|不怎么|不是很|不是太|并不|从来不|从不|"
    r"没那么|没有那么|不)"
)
_ZH_LIKE = r"喜欢|热爱|喜爱|偏好|偏爱|钟爱|钟情于?|迷上了?|爱上了?|享受|爱(?![人好心情护])"
_ZH_DISLIKE = r"讨厌|厌恶|反感|受不了|忍受不了|痛恨|嫌弃|恨|烦"
_ZH_VERB_STANCE = re.compile(
    rf"^{_ZH_SUBJECT}{_ZH_ADVERB}{{0,4}}(?:{_ZH_NEGATION})?{_ZH_ADVERB}{{0,4}}"
    rf"(?:(?P<like>{_ZH_LIKE})|(?P<dislike>{_ZH_DISLIKE}))(?P<object>[^的].*)$"
)
_ZH_FAVOURITE = re.compile(
    rf"^{_ZH_SUBJECT}{_ZH_ADVERB}{{0,4}}(?P<neg>不)?(?:喜欢|爱)的[^是]{{0,12}}是(?P<object>.+)$"
)
_ZH_IS_FAVOURITE = re.compile(r"^(?P<object>.+?)是(?:我|用户)的最爱")
_ZH_HOBBY = re.compile(r"^(?:我|用户)的?(?:爱好|兴趣爱好|兴趣)(?:是|有|就是)(?P<object>.+)$")
_ZH_INTEREST = re.compile(
    rf"^{_ZH_SUBJECT}{_ZH_ADVERB}{{0,4}}对(?P<object>.+?){_ZH_ADVERB}{{0,4}}"
    r"(?P<neg>不|没什么|没啥|没多大|没太大|没有|没)?"
    rf"{_ZH_ADVERB}{{0,4}}(?:感兴趣|有兴趣|兴趣)"
)

_STANCE_PATTERNS: tuple[re.Pattern[str], ...] = (
    _EN_FAVOURITE,
    _EN_IS_FAVOURITE,
    _EN_VERB_STANCE,
    _ZH_FAVOURITE,
    _ZH_IS_FAVOURITE,
    _ZH_HOBBY,
    _ZH_INTEREST,
    _ZH_VERB_STANCE,
)

# A pronoun or the assistant itself is no subject worth remembering ("I love it",
# "I like your answer", "我喜欢你"); the English check runs on the whole object.
# Nor is an option on the table ("I like the second one better", "I prefer the shorter
# version"): that is feedback on this conversation, not a lasting taste.
_EN_DEICTIC = re.compile(
    r"^(?:it|that|this|these|those|them|him|her|you|your|yours|me|us|what|how|when|where|"
    r"the\s+idea|the\s+way\s+you)\b"
    r"|^(?:the\s+)?(?:first|second|third|last|other|former|latter|shorter|longer|new|old|"
    r"previous|next|original|above|below|\w+er)\s+(?:one|ones|version|option|answer|draft|"
    r"reply|response|idea)\b",
    re.IGNORECASE,
)
_ZH_DEICTIC = re.compile(r"^(?:你|您|他|她|它|这|那|哪|谁|一下|了$)")
_EN_TAIL = re.compile(
    r"(?:\s+(?:anymore|any\s+more|at\s+all|these\s+days|nowadays|now|so\s+much|very\s+much|"
    r"a\s+lot|too|either|as\s+well|really|lately|though|anyway|in\s+general|the\s+most|"
    r"more|most|haha+|lol|tbh|honestly))+$",
    re.IGNORECASE,
)
_EN_HEAD = re.compile(
    r"^(?:(?:to|the|a|an|some|any|eating|drinking|having|watching|playing|"
    r"listening\s+to)\s+)+",
    re.IGNORECASE,
)
_EN_COMPARISON = re.compile(
    r"\s+(?:over|rather\s+than|instead\s+of|more\s+than|than|compared\s+to)\s+.*$",
    re.IGNORECASE,
)
_EN_PREFER_TO = re.compile(r"\s+to\s+.*$", re.IGNORECASE)
_ZH_TAIL = re.compile(r"[了啦呢啊呀哦哈吧嘛的～~！!。.，,、\s]+$")
_ZH_COMPARISON = re.compile(r"(?:胜过|而不是|而非|多过|超过|多于).*$")
_ZH_ACTIVITY = re.compile(r"^[吃喝看听玩用]|^(?:去|做)")
# Keeps "C++", "C#" and "100%" whole while dropping quotes, emoji and end punctuation.
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[^\w+#%)]+$")
_CJK = re.compile(r"[\u3400-\u9fff]")


def read_stance(content: str) -> Stance | None:
    """The like or dislike a statement expresses, or ``None`` when it expresses none."""
    text = expand_contractions(" ".join(content.split())).strip(" .!。！~～")
    for pattern in _STANCE_PATTERNS:
        match = pattern.match(text)
        if match:
            return _stance_from(match)
    return None


def _stance_from(match: re.Match[str]) -> Stance | None:
    groups = match.groupdict()
    polarity = DISLIKE if groups.get("dislike") else LIKE
    if groups.get("neg"):
        polarity = -polarity
    verb = (groups.get("like") or "").lower()
    subject = _clean_subject(match.group("object"), prefer=verb.startswith("prefer"))
    if not subject:
        return None
    return Stance(subject=subject, key=subject_key(subject), polarity=polarity)


def _clean_subject(text: str, *, prefer: bool) -> str:
    # What follows a comma is a new thought ("cilantro, it tastes like soap").
    text = re.split(r"[,，;；]", text, maxsplit=1)[0].strip()
    if _CJK.match(text) or _ZH_DEICTIC.match(text):
        return _clean_chinese(text)
    if _EN_DEICTIC.match(text):
        return ""
    text = _EN_COMPARISON.sub("", text)
    if prefer:
        text = _EN_PREFER_TO.sub("", text)
    text = _EDGE_PUNCTUATION.sub("", text)
    return _EN_HEAD.sub("", _EN_TAIL.sub("", text)).strip()


def _clean_chinese(text: str) -> str:
    if _ZH_DEICTIC.match(text):
        return ""
    text = _ZH_TAIL.sub("", _ZH_COMPARISON.sub("", text))
    return _EDGE_PUNCTUATION.sub("", text)


def subject_key(subject: str) -> str:
    """The comparison form of a subject: lower-cased, activity verb and plural dropped.

    "eating sushi" / "sushi", "吃辣" / "辣", "dogs" / "dog" meet on the same key.
    """
    key = " ".join(subject.lower().split())
    if _CJK.match(key):
        stripped = _ZH_ACTIVITY.sub("", key)
        return stripped or key
    key = _EN_HEAD.sub("", key)
    if len(key) > 3 and key.endswith("s") and not key.endswith("ss"):
        key = key[:-1]
    return key
