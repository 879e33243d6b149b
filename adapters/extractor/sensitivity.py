"""How sensitive an extracted statement is (``sensitivity_level``).

Rules:
- 2: secrets and identity numbers, by :func:`domain.secrets.holds_secret` (such a fact
  is never stored).
- 1: health (allergies, conditions, medication, pregnancy), money (salary, debt, loans,
  savings), sexuality and religion, and personal contact details ("my address is …").
- 0: everything else.

Users turn sensitive memories off by default, so a false "1" costs a memory and a false
"0" leaks one; the lists lean towards 1.
"""

from __future__ import annotations

import re

from memvault.domain.secrets import SECRET_LEVEL, holds_secret

_PERSONAL = re.compile(
    r"\b(?:allerg\w*|asthma\w*|diabet\w*|depress\w*|anxiety|adhd|autis\w*|cancer|"
    r"pregnan\w*|medication|medicine|meds|therapy|therapist|psychiatr\w*|surgery|disease|"
    r"illness|disorder|diagnos\w*|blood\s+pressure|hypertension|epilep\w*|migraines?|hiv|"
    r"lactose|gluten\s+intoleran\w*|celiac|coeliac|intoleran\w*|insulin|chemo\w*|ptsd|ocd|"
    r"bipolar|insomnia|injur\w*|bad\s+(?:back|knees?|hips?|shoulders?)|salary|income|debt|"
    r"loans?|mortgage|owe|credit\s+score|net\s+worth|savings|earn|bankrupt|gay|lesbian|"
    r"bisexual|transgender|religio\w*)\b"
    r"|[$€£¥]\s?\d"
    r"|\bmy\s+(?:home\s+|email\s+)?(?:address|phone\s+number|email|mobile\s+number)\s+is\b"
    r"|过敏|哮喘|糖尿病|抑郁|焦虑|癌|怀孕|吃药|药物|手术|疾病|病|症|高血压|失眠|乳糖不耐|"
    r"心理医生|治疗|复查|看病|就医|住院|体检|工资|薪|收入|欠|债|贷款|房贷|车贷|存款|破产|"
    r"同性恋|宗教|信仰|住址|"
    r"手机号|电话号码|邮箱",
    re.IGNORECASE,
)


def sensitivity_of(text: str) -> int:
    """0, 1 or 2 by the rules above."""
    if holds_secret(text):
        return SECRET_LEVEL
    return 1 if _PERSONAL.search(text) else 0
