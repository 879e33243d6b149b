"""Per-user memory settings (docs/behaviour.md, "Settings")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from memvault.domain.secrets import SECRET_LEVEL

SECRET_SENSITIVITY = SECRET_LEVEL
CONSENTED_SENSITIVITY = 1
"""The most sensitive level an explicit request to remember stores even with sensitive
memory off (docs/behaviour.md, "Consent")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MemorySettings:
    """A user's switches. A user with no stored row gets these defaults."""

    user_id: str
    memory_enabled: bool = True
    implicit_memory_enabled: bool = True
    sensitive_memory_enabled: bool = False
    updated_at: datetime | None = None

    def allows(self, *, is_explicit: bool, sensitivity: int) -> bool:
        """Whether a memory with these traits may be written or read for this user."""
        if not self.memory_enabled:
            return False
        if not self.implicit_memory_enabled and not is_explicit:
            return False
        if sensitivity >= SECRET_SENSITIVITY:
            return False
        if is_explicit and sensitivity <= CONSENTED_SENSITIVITY:
            return True
        return self.sensitive_memory_enabled or sensitivity == 0

    def refusal(self, *, is_explicit: bool, sensitivity: int) -> str | None:
        """Why a memory with these traits may not be written (``None`` when it may): the
        ``skipped: …`` outcome a job records for it."""
        if not self.memory_enabled:
            return "skipped: memory off"
        if sensitivity >= SECRET_SENSITIVITY:
            return "skipped: secret"
        if not self.implicit_memory_enabled and not is_explicit:
            return "skipped: implicit memory off"
        if not self.allows(is_explicit=is_explicit, sensitivity=sensitivity):
            return "skipped: sensitive"
        return None

    def snapshot(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "memory_enabled": self.memory_enabled,
            "implicit_memory_enabled": self.implicit_memory_enabled,
            "sensitive_memory_enabled": self.sensitive_memory_enabled,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }
