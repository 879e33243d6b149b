"""API keys: long-lived credentials for end users, backends and operators.

A key is ``mv_`` followed by 43 URL-safe characters (256 random bits). Only its SHA-256
is stored. A slow password hash (argon2, bcrypt) defends low-entropy secrets against
guessing; a 256-bit random secret cannot be guessed, so a fast hash keeps it just as
unrecoverable from a stolen table while letting every request look the key up by its
hash with one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from memvault.domain.errors import InvalidValue, NotFound

KEY_PREFIX = "mv_"
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 8
MAX_NAME = 64
MAX_USER_ID = 128
LAST_USE_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per key, not on every request."""


class ApiKeyNotFound(NotFound):
    code = "ApiKeyNotFound"


class ScopeKind(StrEnum):
    USER = "user"
    """Acts for one user only."""
    SERVICE = "service"
    """Acts for the user each request names; never an operator."""
    ADMIN = "admin"
    """Reaches the operator endpoints (and acts for a named user elsewhere)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyScope:
    kind: ScopeKind
    user_id: str | None = None
    """The one user of a ``user`` scope; ``None`` for the others."""

    @classmethod
    def parse(cls, text: str) -> KeyScope:
        """``service``, ``admin`` or ``user:<id>`` (an id of 1-128 characters, kept
        byte for byte: ids are compared exactly)."""
        if text.strip() in (ScopeKind.SERVICE, ScopeKind.ADMIN):
            return cls(kind=ScopeKind(text.strip()))
        kind, sep, user_id = text.partition(":")
        if (
            kind.strip() == ScopeKind.USER
            and sep
            and user_id.strip()
            and len(user_id) <= MAX_USER_ID
        ):
            return cls(kind=ScopeKind.USER, user_id=user_id)
        raise InvalidValue(
            "a key's scope is service, admin or user:<id> (an id of 1-128 characters)",
            field="scope",
        )

    def __str__(self) -> str:
        return f"user:{self.user_id}" if self.kind is ScopeKind.USER else self.kind.value


def hash_secret(secret: str) -> str:
    """The stored form of a key (hex SHA-256)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def looks_like_key(token: str) -> bool:
    """Whether a bearer credential is an API key rather than a JWT."""
    return token.startswith(KEY_PREFIX)


@dataclass(slots=True, kw_only=True)
class ApiKey:
    """A stored key. The secret itself is never kept: see :class:`NewKey`."""

    id: int | None = None
    name: str
    prefix: str
    """The first characters of the secret, shown in listings to recognise a key."""
    secret_hash: str
    scope: KeyScope
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    def use_is_worth_recording(self, now: datetime) -> bool:
        return self.last_used_at is None or now - self.last_used_at >= LAST_USE_RESOLUTION


@dataclass(frozen=True, slots=True, kw_only=True)
class NewKey:
    """A key just made: ``secret`` is shown to its owner once and never again."""

    key: ApiKey
    secret: str


def mint(name: str, scope: KeyScope, *, now: datetime, expires_in: timedelta | None) -> NewKey:
    """A fresh key named ``name`` (1-64 characters) for ``scope``."""
    clean = name.strip()
    if not 1 <= len(clean) <= MAX_NAME:
        raise InvalidValue(f"a key's name has 1 to {MAX_NAME} characters", field="name")
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidValue("a key's lifetime must be positive", field="expires")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=clean,
        prefix=secret[:DISPLAY_PREFIX_LENGTH],
        secret_hash=hash_secret(secret),
        scope=scope,
        created_at=now,
        expires_at=now + expires_in if expires_in is not None else None,
    )
    return NewKey(key=key, secret=secret)
