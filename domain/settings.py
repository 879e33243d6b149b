"""Per-user memory settings (docs/behaviour.md, "Settings")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
        return self.sensitive_memory_enabled or sensitivity == 0

    def snapshot(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "memory_enabled": self.memory_enabled,
            "implicit_memory_enabled": self.implicit_memory_enabled,
            "sensitive_memory_enabled": self.sensitive_memory_enabled,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }
