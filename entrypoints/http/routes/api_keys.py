"""``/api/v1/admin/keys``: operators make, list and revoke API keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from memvault.application.api_keys.create_key import CreateKey
from memvault.domain.api_keys import MAX_NAME, ApiKey
from memvault.entrypoints.http.auth import admin_guard
from memvault.entrypoints.http.deps import ContainerDep, checked_id
from memvault.entrypoints.http.idempotency import SHOWN_ONCE


class KeyIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME)]
    scope: Annotated[str, msgspec.Meta(min_length=1, max_length=140, examples=["service"])]
    """``service``, ``admin`` or ``user:<id>``."""
    expires_in_seconds: Annotated[int, msgspec.Meta(gt=0)] | None = None
    """Unset: the key never expires (it can still be revoked)."""


class KeyOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(
            id=key.id or 0,
            name=key.name,
            prefix=key.prefix,
            scope=str(key.scope),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


class NewKeyOut(KeyOut, kw_only=True):
    key: str
    """The secret: shown this once, stored only as a hash."""


class KeyListOut(msgspec.Struct):
    items: list[KeyOut]


class ApiKeyController(Controller):
    path = "/api/v1/admin/keys"
    tags = ("operators",)
    guards = (admin_guard,)

    @post(
        "/",
        status_code=201,
        operation_id="create_api_key",
        summary="Make an API key (its secret is shown once)",
        opt={SHOWN_ONCE: True},
    )
    async def create_key(self, data: JSONBody[KeyIn], container: ContainerDep) -> NewKeyOut:
        expires = data.expires_in_seconds
        new = await container.create_key()(
            CreateKey(
                name=data.name,
                scope=data.scope,
                expires_in=timedelta(seconds=expires) if expires is not None else None,
            )
        )
        return NewKeyOut(**msgspec.structs.asdict(KeyOut.of(new.key)), key=new.secret)

    @get("/", operation_id="list_api_keys", summary="Every API key, newest first (never a secret)")
    async def list_keys(self, container: ContainerDep) -> KeyListOut:
        return KeyListOut(items=[KeyOut.of(k) for k in await container.list_keys()()])

    @post(
        "/{key_id:int}/revoke",
        operation_id="revoke_api_key",
        status_code=200,
        summary="Revoke an API key (idempotent)",
    )
    async def revoke_key(self, key_id: FromPath[int], container: ContainerDep) -> KeyOut:
        return KeyOut.of(await container.revoke_key()(checked_id(key_id, "API key")))

    @delete(
        "/{key_id:int}",
        operation_id="delete_api_key",
        status_code=200,
        summary="Revoke an API key (same as /revoke)",
    )
    async def delete_key(self, key_id: FromPath[int], container: ContainerDep) -> KeyOut:
        return KeyOut.of(await container.revoke_key()(checked_id(key_id, "API key")))
