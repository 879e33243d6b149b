"""Bearer authentication (docs/behaviour.md, "Identity"): a JWT (``sub`` is the user,
``scope`` may hold admin) or an API key (``mv_...``, see ``entrypoints/http/api_keys.py``).

JWTs signed HS256 are verified with the local secret. When an external identity provider
is configured, tokens signed with one of its algorithms go to it instead; its claims
name the user and the admin scope exactly as a local token's do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from memvault.application.ports.identity import (
    IdentityProvider,
    IdentityProviderUnavailable,
    TokenRefused,
)
from memvault.domain.api_keys import looks_like_key
from memvault.domain.audit import Operator

PUBLIC_PATHS = ["^/healthz", "^/readyz", "^/metrics", "^/schema", "^/ui"]
MAX_USER_ID = 128


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: the user whose data the request reaches (a token's ``sub`` or a key's
    user, byte for byte), and who is audited for it."""

    user_id: str
    is_admin: bool = False
    acting: Operator | None = None
    """An API key acting for ``user_id``; ``None``: the user themselves (a JWT)."""

    @property
    def operator(self) -> Operator:
        return self.acting or Operator.user(self.user_id)


def issue_token(
    secret: str, user_id: str, *, admin: bool = False, ttl: timedelta = timedelta(hours=24)
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl}
    if admin:
        claims["scope"] = "admin"
    return jwt.encode(claims, secret, algorithm="HS256")


def principal_from_token(token: str, secret: str) -> Principal:
    """The caller named by a valid HS256 token (401 for anything else).

    The user id is the ``sub`` claim exactly as signed: never trimmed, case-folded or
    Unicode-normalised (NFC and NFD spellings of "é" are two users), and compared byte for
    byte in every database (see ``adapters.sqlalchemy.types.ExactString``). Two different
    ``sub`` values are two users who never see each other's data; merging spellings is
    the identity provider's job, by issuing one ``sub``.
    """
    try:
        # ``exp`` is required: a token that never expires stays valid as long as the secret.
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError as error:
        raise NotAuthorizedException("the token has expired") from error
    except jwt.PyJWTError as error:
        raise NotAuthorizedException("the token is not valid") from error
    return principal_from_claims(claims)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The caller named by verified claims: ``sub`` the user, ``scope`` (a space-separated
    string or a list) holding ``admin`` the operator."""
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not 1 <= len(user_id) <= MAX_USER_ID:
        raise NotAuthorizedException("the token's subject must be a user id of 1-128 characters")
    scope = claims.get("scope")
    scopes = scope.split() if isinstance(scope, str) else scope if isinstance(scope, list) else []
    return Principal(user_id=user_id, is_admin="admin" in scopes)


class VerifiedTokens:
    """:func:`principal_from_token` with its answers kept until each token's ``exp``.

    An agent sends the same token on every request for hours, and verifying it (HMAC,
    claim checks) was a measurable share of a search. Only tokens that passed are kept,
    never past their expiry (checked on every use); at most ``size`` of them, the oldest
    dropped first. A refused token is verified again each time.
    """

    def __init__(
        self, secret: str, *, size: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self._size = size
        self._clock = clock
        self._kept: dict[str, tuple[Principal, float]] = {}

    def principal(self, token: str) -> Principal:
        kept = self._kept.get(token)
        if kept is not None and self._clock() < kept[1]:
            return kept[0]
        principal = principal_from_token(token, self._secret)
        expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
        if isinstance(expires, int | float):
            if len(self._kept) >= self._size:
                del self._kept[next(iter(self._kept))]
            self._kept[token] = (principal, float(expires))
        return principal


async def principal_from_provider(token: str, provider: IdentityProvider) -> Principal:
    """The caller named by a token the external identity provider signed."""
    try:
        claims = await provider.claims(token)
    except TokenRefused as error:
        raise NotAuthorizedException(error.detail) from error
    except IdentityProviderUnavailable as error:
        raise ServiceUnavailableException(str(error)) from error
    return principal_from_claims(claims)


def signed_locally(token: str) -> bool:
    """Whether the token is the local secret's to verify: signed HS256, or unreadable.
    Any other algorithm (``none`` included, refused by name) is the provider's."""
    try:
        return bool(jwt.get_unverified_header(token).get("alg") == "HS256")
    except jwt.PyJWTError:
        return True


class JWTAuthMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, secret: str, provider: IdentityProvider | None = None) -> None:
        super().__init__(app, exclude=PUBLIC_PATHS)
        self._tokens = VerifiedTokens(secret)
        self._provider = provider

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("send Authorization: Bearer <token>")
        if looks_like_key(token.strip()):
            from memvault.entrypoints.http.api_keys import principal_from_key

            principal = await principal_from_key(connection, token.strip())
            return AuthenticationResult(user=principal, auth=None)
        if self._provider is not None and not signed_locally(token.strip()):
            principal = await principal_from_provider(token.strip(), self._provider)
        else:
            principal = self._tokens.principal(token.strip())
        return AuthenticationResult(user=principal, auth=token)


def admin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """Operator endpoints need a token whose scope holds ``admin``.

    A CORS preflight (``OPTIONS``, answered by Litestar with no body) carries no token and
    passes: it reveals nothing, and reading ``connection.user`` there would be a 500.
    """
    if connection.scope.get("method") == "OPTIONS":
        return
    user = connection.scope.get("user")
    if not isinstance(user, Principal) or not user.is_admin:
        raise PermissionDeniedException("this endpoint needs the admin scope")
