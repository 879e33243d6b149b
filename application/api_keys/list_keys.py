"""Every API key, newest first (names, prefixes, scopes and times; never a secret)."""

from __future__ import annotations

from memvault.application.ports.api_keys import ApiKeyRepository
from memvault.domain.api_keys import ApiKey


class ListKeysUseCase:
    def __init__(self, keys: ApiKeyRepository) -> None:
        self._keys = keys

    async def __call__(self) -> list[ApiKey]:
        return await self._keys.list()
