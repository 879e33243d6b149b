"""Cues that stop a clause from being remembered, or mark an instruction as standing.

Rules ("better to miss than to over-remember"):
- A question states nothing about the user: it ends with "?"/"？"/"吗", starts like one
  ("what …", "do you …", "can I …"), or asks with 什么/为什么/怎么/哪/谁/多少/是不是….
- A hypothetical states nothing either: a sentence that opens with "if", "imagine",
  "let's say", "如果", "假如", "要是"…, or a clause with "wish", "would" (but not "would
  rather/prefer"), "的话".
- A task request ("book …", "can you write …", "帮我订…", "翻译…") is not remembered; when a
  message holds one, a "don't …" next to it is a detail of that task, unless it says it
  lasts ("always", "from now on", "every time", "以后", "永远", "每次"…).
- An instruction about "it"/"this"/"today" ("don't send it yet", "今天别…") is one-off.
"""

from __future__ import annotations

import re

_EN_QUESTION = re.compile(
    r"\?\s*$"
    r"|^(?:what|what's|whats|why|how|where|when|who|whom|whose|which)\b"
    r"|^(?:do|does|did|can|could|would|will|should|shall|is|are|am|was|were|have|has|had|"
    r"may|might)(?:n't|n’t)?\s+(?:you|i|we|they|he|she|it|there|my|your|this|that|the|a|an|"
    r"u)\b"
    r"|^(?:don't|don’t|won't|won’t|can't|can’t)\s+(?:you|i|we|they|it)\b",
    re.IGNORECASE,
)
_ZH_QUESTION = re.compile(
    r"[？?]\s*$|[吗么][\s。.!！~～]*$"
    # "不怎么" (not much), "没什么" (nothing much) and "什么都" (anything) are no question.
    r"|(?<![没不])什么(?![都也])|为什么|为啥|(?<!不)怎么|怎样|如何|哪|谁|多少|几点|几个|几岁|"
    r"是不是|能不能|可不可以|"
    r"有没有|要不要|对不对|好不好|行不行|会不会|难道"
)
_HYPOTHETICAL_OPENING = re.compile(
    r"^(?:if|suppose|supposing|imagine|hypothetically|what\s+if|let's\s+say|lets\s+say|"
    r"say|pretend|assuming|in\s+my\s+(?:story|novel|game|book|dream))\b"
    r"|^(?:如果|假如|假设|要是|万一|假若|倘若|设想|想象一下|比如说?|譬如|假装)",
    re.IGNORECASE,
)
_HYPOTHETICAL_CLAUSE = re.compile(
    r"\b(?:wish|wished|pretend|imagine|hypothetically|would(?!\s+(?:rather|prefer|like\s+you)\b))\b"
    r"|的话|如果|假如|要是|希望自己|但愿",
    re.IGNORECASE,
)
_TASK = re.compile(
    r"^(?:please\s+|pls\s+|kindly\s+)?(?:can|could|would|will)\s+you\b"
    r"|^(?:please\s+|pls\s+|kindly\s+)?(?:book|reserve|write|draft|compose|send|email|"
    r"text|find|search|look\s+up|google|translate|summari[sz]e|explain|tell\s+me|show\s+me|"
    r"give\s+me|get\s+me|make|create|generate|build|set|schedule|remind\s+me|order|buy|"
    r"check|calculate|convert|list|recommend|suggest|plan|fix|rewrite|edit|proofread|help|"
    r"add|cancel|play|open|turn|read|compare|teach\s+me|draw|design|organi[sz]e|sort|"
    r"prepare|arrange)\b"
    r"|^I\s+(?:need|want)\s+(?:you\s+to|a|an|to\s+(?:book|buy|order|find|write))\b"
    r"|^I\s+would\s+like\s+(?:to|a|an|you\s+to)\b"
    r"|^let(?:'s|\s+us)\b"
    r"|^(?:请你?|麻烦你?|能不能|可以|你能|你可以|能)?(?:帮我|帮忙|替我|给我|为我|帮我们)"
    r"|^(?:请|麻烦)?(?:订|预订|预定|查一下|查查|搜一下|搜索|翻译|写一|写个|画一|画个|生成|"
    r"总结|计算|算一下|推荐|安排|打开|讲讲|讲个|解释|列出|整理|规划|修改|润色)",
    re.IGNORECASE,
)
_STANDING = re.compile(
    r"\b(?:always|from\s+now\s+on|going\s+forward|moving\s+forward|in\s+(?:the\s+)?future|"
    r"every\s+time|whenever|any\s+time|anytime|ever|again|anymore|henceforth)\b"
    r"|以后|今后|永远|每次|每回|总是|一直|始终|从现在|从今|再也|任何时候|往后",
    re.IGNORECASE,
)
_ONE_OFF = re.compile(
    r"\b(?:it|this|that|these|those|them|yet|today|tonight|tomorrow|right\s+now|"
    r"this\s+time)\b"
    r"|这次|这个|那个|今天|明天|今晚|现在|刚才|一下",
    re.IGNORECASE,
)


def is_question(clause: str) -> bool:
    return bool(_EN_QUESTION.search(clause) or _ZH_QUESTION.search(clause))


def opens_hypothetical(sentence: str) -> bool:
    return bool(_HYPOTHETICAL_OPENING.match(sentence))


def is_hypothetical(clause: str) -> bool:
    return bool(_HYPOTHETICAL_OPENING.match(clause) or _HYPOTHETICAL_CLAUSE.search(clause))


def is_task(clause: str) -> bool:
    return bool(_TASK.match(clause))


def is_standing(clause: str) -> bool:
    """The instruction says it lasts beyond this turn."""
    return bool(_STANDING.search(clause))


def is_one_off(clause: str) -> bool:
    """The instruction points at something in this conversation ("it", "today")."""
    return bool(_ONE_OFF.search(clause))
