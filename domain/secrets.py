"""Secrets are never stored (docs/behaviour.md, "Secrets").

A statement holds a secret when it names a credential or an identity number: passwords,
PINs, card/account/passport/ID numbers, API keys, "身份证", "密码", "银行卡号"…, or any
run of 13+ digits, spaces or dashes allowed (ID and card numbers). A card or an account
merely mentioned ("I pay by credit card", "不想在网上填银行卡信息") is no secret.
Such a statement is sensitivity 2, whoever graded it (the rule-based extractor, the
LLM, a client), and every path refuses it: extraction skips the fact
(``skipped: secret``), direct writes and imports answer 400. Nothing of it
reaches the database, the vectors, the audit log or an export.
"""

from __future__ import annotations

import re

from memvault.domain.errors import InvalidValue

SECRET_LEVEL = 2

_SECRET = re.compile(
    r"\b(?:password|passcode|passphrase|pin(?:\s+code)?|ssn|social\s+security|passport|"
    r"card\s+number|cvv|account\s+number|routing\s+number|"
    r"api\s+key|secret\s+key|access\s+token|private\s+key|licen[sc]e\s+number|id\s+number)\b"
    r"|身份证|密码|口令|护照|银行卡号|卡号|社保号|账号|验证码|(?:\d[ -]?){12,}\d",
    re.IGNORECASE,
)


class SecretRefused(InvalidValue):
    """A write would store a secret."""

    code = "MemorySecretRefused"


def holds_secret(text: str) -> bool:
    """Whether ``text`` names a credential or an identity number (the rule above)."""
    return bool(_SECRET.search(text))


def refuse_secret(*texts: str | None, sensitivity: int | None = None, field: str) -> None:
    """Raise :class:`SecretRefused` when any text holds a secret or the level says one."""
    if (sensitivity is not None and sensitivity >= SECRET_LEVEL) or any(
        t and holds_secret(t) for t in texts
    ):
        raise SecretRefused(
            "memvault never stores secrets (passwords, card and account numbers, keys, "
            "government ids): leave the secret out",
            field=field,
        )
