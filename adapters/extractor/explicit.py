"""Explicit requests to remember: "remember that …", "记住…", "以后提醒我…".

Rules (``is_explicit`` when the user says 记住 or 以后提醒我):
- English: "remember (that) …", "please remember …", "can you remember …?", "don't /
  never forget (that) …", "keep / bear in mind …", "make a note (that) …", "note that …",
  "memorise …"; "always / from now on … remind me …" and "remind me every …".
- Chinese: "记住…", "请记住…", "帮我记一下…", "你能记住…吗", "别忘了我…", "以后/每天提醒我…".
- What follows is the statement to remember. "Remember to buy milk" (a task), "remember
  when …" / "记得…吗" (questions) and "remember this" with nothing after are no statement.
- A bare "remember," / "记住：" / "帮我记住" next to a statement marks that statement.
"""

from __future__ import annotations

import re

from memvault.adapters.extractor.segmentation import clean_clause

_EN_VERB = (
    r"(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:remember|memori[sz]e|"
    r"keep\s+in\s+mind|bear\s+in\s+mind|make\s+a\s+note(?:\s+of)?|take\s+note(?:\s+of)?|"
    r"note|do(?:n'?t|n’t|\s+not)\s+(?:ever\s+)?forget|never\s+forget)"
)
_EN_REQUEST = re.compile(
    rf"^{_EN_VERB}(?:\s+(?:that|this|the\s+fact\s+that))?(?:\s*[:,\-–—]\s*|\s+)"
    r"(?P<inner>.+?)\s*\??$",
    re.IGNORECASE,
)
_EN_REMIND = re.compile(
    r"^(?:please\s+)?(?P<inner>(?:always|from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future)"
    r"[\s,]+(?:please\s+)?remind\s+me\b.+|remind\s+me\s+(?:every|each)\b.+)$",
    re.IGNORECASE,
)
_EN_BARE = re.compile(rf"^{_EN_VERB}(?:\s+(?:that|this))?[\s:,!.]*$", re.IGNORECASE)
_ZH_VERB = r"(?:请你?|你|麻烦你?)?(?:能不能|可不可以|能|可以|要|得|一定要)?(?:帮我|给我|替我)?"
_ZH_REQUEST = re.compile(
    rf"^{_ZH_VERB}(?:记住|记一下|记下来|记下|记着|牢记|记好|备注一下)(?:了|哦|啊)?[：:，,\s]*"
    r"(?P<inner>.+?)(?:好吗|可以吗|行吗|[吗嘛])?[？?]?$"
)
_ZH_DO_NOT_FORGET = re.compile(
    r"^(?:请)?(?:别|不要|千万别|千万不要)(?:忘了|忘记)[：:，,\s]*(?P<inner>我.+)$"
)
_ZH_REMIND = re.compile(
    r"^(?P<inner>(?:以后|今后|从现在开始|从现在起|每天|每次|每周|每个月)(?:都)?(?:要)?提醒我.+)$"
)
_ZH_BARE = re.compile(
    rf"^{_ZH_VERB}(?:记住|记一下|记下来|记下|记着|牢记|记好)(?:了|哦|啊|吧|这个|这件事|这点)?"
    r"[：:，,!！。\s]*$"
)
_REQUESTS = (_EN_REMIND, _EN_REQUEST, _ZH_DO_NOT_FORGET, _ZH_REMIND, _ZH_REQUEST)
_NOT_A_STATEMENT = re.compile(
    r"^(?:to|me|when|what|how|where|who|why|which|if|whether|the\s+time|it|this|that|"
    r"everything|anything|us)\b|^(?:这|那|它|什么)",
    re.IGNORECASE,
)


def explicit_inner(clause: str) -> str | None:
    """The statement the user asks to be remembered, or ``None`` when none is asked."""
    for pattern in _REQUESTS:
        match = pattern.match(clause)
        if match:
            inner = clean_clause(match.group("inner"))
            return None if not inner or _NOT_A_STATEMENT.match(inner) else inner
    return None


def is_bare_request(clause: str) -> bool:
    """A bare "Remember:" / "记住": it marks the statement next to it."""
    return bool(_EN_BARE.match(clause) or _ZH_BARE.match(clause))
