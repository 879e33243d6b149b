"""Make an API key: the secret is returned once, only its hash is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from memvault.application.ports.api_keys import ApiKeyRepository
from memvault.application.ports.clock import Clock
from memvault.domain.api_keys import KeyScope, NewKey, mint


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateKey:
    name: str
    scope: str
    """``service``, ``admin`` or ``user:<id>``."""
    expires_in: timedelta | None = None
    """``None``: the key never expires (it can still be revoked)."""


class CreateKeyUseCase:
    def __init__(self, keys: ApiKeyRepository, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def __call__(self, command: CreateKey) -> NewKey:
        new = mint(
            command.name,
            KeyScope.parse(command.scope),
            now=self._clock.now(),
            expires_in=command.expires_in,
        )
        await self._keys.add(new.key)
        return new
