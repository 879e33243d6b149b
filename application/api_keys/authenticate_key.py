"""Resolve a presented API key to the stored key it is, if it may be used now.

Nothing is cached: each request reads the key's row (one lookup on a unique index),
so a revoked or expired key is refused at once by every API process. The last use
is written at most once a minute per key.
"""

from __future__ import annotations

from memvault.application.ports.api_keys import ApiKeyRepository
from memvault.application.ports.clock import Clock
from memvault.domain.api_keys import LAST_USE_RESOLUTION, ApiKey, hash_secret


class AuthenticateKeyUseCase:
    def __init__(self, keys: ApiKeyRepository, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def __call__(self, secret: str) -> ApiKey | None:
        """The key, or ``None`` when it is unknown, revoked or expired."""
        key = await self._keys.by_hash(hash_secret(secret))
        now = self._clock.now()
        if key is None or key.id is None or not key.usable(now):
            return None
        if key.use_is_worth_recording(now):
            await self._keys.record_use(key.id, now=now, unless_since=now - LAST_USE_RESOLUTION)
        return key
