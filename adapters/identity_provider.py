"""JWTs from an external identity provider (docs/behaviour.md, "Identity"): verified with
a configured PEM public key or with the keys of a JWKS URL.

PyJWT does the verifying. With a JWKS URL its ``PyJWKClient`` caches the key set for
``cache_s`` seconds; a token naming an unknown ``kid`` fetches the set again at once
(key rotation), at most once per ``refresh_cooldown_s``, so random ``kid`` values cannot
make memvault hammer the provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt
import structlog
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from memvault.application.ports.identity import (
    IdentityProvider,
    IdentityProviderUnavailable,
    TokenRefused,
)

log = structlog.get_logger(__name__)

REQUIRED_CLAIMS = ["sub", "exp", "iss", "aud"]
REFUSALS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.InvalidIssuerError, "the token's issuer (iss) is not the configured identity provider"),
    (jwt.InvalidAudienceError, "the token's audience (aud) is not this service"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted"),
)


def load_public_key(value: str) -> Any:
    """A PEM public key, given as its text or as the path of a file holding it."""
    text = value if value.lstrip().startswith("-----BEGIN") else Path(value).read_text()
    return load_pem_public_key(text.encode())


def fitting(key: Any, algorithms: Sequence[str]) -> list[str]:
    """The algorithms ``key`` can verify (an EC key: ES256, not RS256)."""
    usable = []
    for name in algorithms:
        try:
            jwt.get_algorithm_by_name(name).prepare_key(key)
        except (TypeError, ValueError, jwt.InvalidKeyError):
            continue
        usable.append(name)
    if not usable:
        raise ValueError(f"the identity provider's public key fits none of {list(algorithms)}")
    return usable


def refusal(error: jwt.PyJWTError) -> TokenRefused:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return TokenRefused(f"the token has no {error.claim} claim")
    for kind, detail in REFUSALS:
        if isinstance(error, kind):
            return TokenRefused(detail)
    return TokenRefused("the token is not valid")


class ProviderTokens(IdentityProvider):
    """Verifies tokens with one key (PEM) or the provider's key set (JWKS)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        public_key: str | None = None,
        jwks_url: str | None = None,
        cache_s: float = 300.0,
        refresh_cooldown_s: float = 30.0,
        timeout_s: float = 5.0,
    ) -> None:
        if (public_key is None) == (jwks_url is None):
            raise ValueError("give exactly one of a public key and a JWKS URL")
        self._issuer = issuer
        self._audience = audience
        self._key: Any = load_public_key(public_key) if public_key is not None else None
        self._algorithms = list(algorithms) if self._key is None else fitting(self._key, algorithms)
        self._jwks = (
            jwt.PyJWKClient(
                jwks_url,
                lifespan=cache_s,
                cooldown_duration=refresh_cooldown_s,
                timeout=timeout_s,
            )
            if jwks_url is not None
            else None
        )

    def accepts_algorithm(self, algorithm: str) -> bool:
        return algorithm in self._algorithms

    async def claims(self, token: str) -> Mapping[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenRefused("the token is not valid") from error
        if not self.accepts_algorithm(str(header.get("alg"))):
            raise TokenRefused(f"the token's algorithm {header.get('alg')!r} is not accepted")
        key: Any = self._key
        if self._jwks is not None:
            key = await signing_key(self._jwks, header.get("kid"))
        try:
            return jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise refusal(error) from error


async def signing_key(jwks: jwt.PyJWKClient, kid: object) -> jwt.PyJWK:
    if not isinstance(kid, str) or not kid:
        raise TokenRefused("the token names no signing key (kid)")
    try:
        # Off the loop: a cache miss fetches the key set with a blocking HTTP call.
        return await asyncio.to_thread(jwks.get_signing_key, kid)
    except jwt.PyJWKClientConnectionError as error:
        log.warning("jwks_fetch_failed", error=str(error))
        raise IdentityProviderUnavailable(
            "the identity provider's keys could not be fetched; try again later"
        ) from error
    except jwt.PyJWKClientError as error:
        raise TokenRefused(
            f"the token's signing key {kid!r} is not one of the identity provider's keys"
        ) from error
