"""The identity provider port: JWTs that an external identity provider signed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class TokenRefused(Exception):
    """The token is not accepted; ``detail`` says why, for the caller (a 401)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class IdentityProviderUnavailable(Exception):
    """The provider's keys could not be fetched and none is cached (a 503)."""


class IdentityProvider(Protocol):
    """Contract: ``claims`` returns the claims of a token whose signature, algorithm,
    issuer, audience and expiry all check out, and raises :class:`TokenRefused` naming
    the first check that failed (or :class:`IdentityProviderUnavailable`)."""

    def accepts_algorithm(self, algorithm: str) -> bool:
        """Whether tokens signed with ``algorithm`` are this provider's to verify."""
        ...

    async def claims(self, token: str) -> Mapping[str, Any]: ...
