"""Where API keys are kept (only their hashes)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from memvault.domain.api_keys import ApiKey


class ApiKeyRepository(Protocol):
    """Stored keys. Each method is its own transaction: keys are looked up on every
    request, outside any unit of work."""

    async def add(self, key: ApiKey) -> ApiKey:
        """Store a new key; returns it with its ``id``."""
        ...

    async def by_hash(self, secret_hash: str) -> ApiKey | None:
        """The key with that hash, revoked and expired ones included."""
        ...

    async def get(self, key_id: int) -> ApiKey | None: ...

    async def list(self) -> list[ApiKey]:
        """Every key, newest first."""
        ...

    async def revoke(self, key_id: int, *, now: datetime) -> bool:
        """Set ``revoked_at`` unless already set; ``False`` when no live key changed."""
        ...

    async def record_use(self, key_id: int, *, now: datetime, unless_since: datetime) -> None:
        """Set ``last_used_at`` to ``now`` unless it is already at or after ``unless_since``
        (so concurrent requests write it once)."""
        ...
