"""``Idempotency-Key`` on mutating requests (docs/behaviour.md, "HTTP edges").

The same key from the same user within 24 h replays the first response; the same key
with a different request is 422; a key whose first request is still running is 409, for
as long as its lease (``MEMVAULT_IDEMPOTENCY_LEASE_S``, 60 s): a request that crashed or
hangs past it no longer holds the key.
Responses of 500 and above are not kept, so the client's retry runs again. A route
marked ``SHOWN_ONCE`` (a new API key: its secret) never has its answer kept: a retry
with the same key is answered 409, so the secret is in no table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from memvault.application.ports.idempotency import Claim, IdempotencyStore, StoredResponse
from memvault.domain.text import has_forbidden_control
from memvault.entrypoints.http.asgi import (
    BodyTooLarge,
    problem_body,
    read_body,
    replay_receive,
    send_bytes,
    send_problem,
)
from memvault.entrypoints.http.auth import Principal
from memvault.entrypoints.http.errors import PROBLEM

HEADER = b"idempotency-key"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
KEY_TTL = timedelta(hours=24)
MAX_KEY = 255
SHOWN_ONCE = "shown_once"
"""Route option: a successful answer carries a secret shown once, never to be stored."""
SHOWN_ONCE_DETAIL = (
    "the first request with this Idempotency-Key succeeded; its answer held a secret that is "
    "shown once and kept nowhere: list the keys to find the one it made"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Kept:
    """The key a running request holds, and when its stored response expires."""

    store: IdempotencyStore
    user_id: str
    key: str
    expires_at: datetime


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _shown_once(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    return bool(handler is not None and handler.opt.get(SHOWN_ONCE))


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        key = _header(scope, HEADER)
        user = scope.get("user")
        if key is None or scope["method"] not in MUTATING or not isinstance(user, Principal):
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= MAX_KEY or not key.strip() or has_forbidden_control(key):
            detail = (
                f"Idempotency-Key must have 1 to {MAX_KEY} characters, not all blank, no controls"
            )
            await send_problem(send, 400, detail, field="Idempotency-Key")
            return
        try:
            body = await read_body(receive)
        except BodyTooLarge as error:
            await send_problem(send, 413, str(error))
            return
        digest = hashlib.sha256(
            b"\n".join([scope["method"].encode(), scope["path"].encode(), body])
        ).hexdigest()
        container = Litestar.from_scope(scope).state.container
        store: IdempotencyStore = container.idempotency()
        lease = timedelta(seconds=container.settings().idempotency_lease_s)
        started = datetime.now(UTC)
        claim = await store.begin(user.user_id, key, digest, now=started, ttl=KEY_TTL, lease=lease)
        if claim.outcome is Claim.MISMATCH:
            await send_problem(send, 422, "this Idempotency-Key was used with another request")
            return
        if claim.outcome is Claim.IN_PROGRESS:
            await send_problem(send, 409, "a request with this Idempotency-Key is still running")
            return
        if claim.outcome is Claim.REPLAY and claim.response is not None:
            stored = claim.response
            await send_bytes(
                send,
                stored.status,
                stored.body,
                stored.content_type,
                [("idempotent-replayed", "true")],
            )
            return
        kept = _Kept(store=store, user_id=user.user_id, key=key, expires_at=started + KEY_TTL)
        await self._run_and_keep(scope, replay_receive(body, receive), send, kept)

    async def _run_and_keep(self, scope: Scope, receive: Receive, send: Send, kept: _Kept) -> None:
        status = 500
        content_type = "application/json"
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", []):
                    if bytes(name).lower() == b"content-type":
                        content_type = bytes(value).decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await kept.store.abandon(kept.user_id, kept.key)
            raise
        if status >= 500:
            await kept.store.abandon(kept.user_id, kept.key)
            return
        response = StoredResponse(status=status, body=b"".join(chunks), content_type=content_type)
        if status < 300 and _shown_once(scope):
            response = StoredResponse(
                status=409, body=problem_body(409, SHOWN_ONCE_DETAIL), content_type=PROBLEM
            )
        await kept.store.finish(kept.user_id, kept.key, response, expires_at=kept.expires_at)
