"""Revoke an API key: every request with it is refused from then on."""

from __future__ import annotations

from memvault.application.ports.api_keys import ApiKeyRepository
from memvault.application.ports.clock import Clock
from memvault.domain.api_keys import ApiKey, ApiKeyNotFound


class RevokeKeyUseCase:
    """Idempotent: revoking a revoked key changes nothing and returns it."""

    def __init__(self, keys: ApiKeyRepository, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def __call__(self, key_id: int) -> ApiKey:
        await self._keys.revoke(key_id, now=self._clock.now())
        key = await self._keys.get(key_id)
        if key is None:
            raise ApiKeyNotFound(f"API key {key_id} not found")
        return key
