"""Request bodies are bounded before anything decodes them.

A body over ``MAX_BODY_BYTES`` (declared by ``Content-Length`` or found while streaming)
is a 413 without reading the rest. A body that nests more than ``MAX_JSON_DEPTH``
containers is a 400 naming its top-level field: msgspec decodes recursively and would
otherwise raise ``RecursionError`` (a 500) on a body a few thousand levels deep. Every
body is scanned, whatever its ``Content-Type`` says: Litestar decodes them all as JSON.
"""

from __future__ import annotations

import json
import re

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from memvault.entrypoints.http.asgi import (
    MAX_BODY_BYTES,
    BodyTooLarge,
    declared_length,
    read_body,
    replay_receive,
    send_problem,
)

MAX_JSON_DEPTH = 100
"""Far above what any request schema needs; snapshots have their own, lower bound."""
WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}
# A JSON string (unrolled loop: linear, no backtracking) or a structural character.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:]')


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> str | None:
    """``None`` when ``body`` nests at most ``limit`` containers; otherwise the top-level
    key under which it goes deeper (``body`` when there is none)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return None
    depth = 0
    key: str | None = None
    last: bytes | None = None
    for match in _TOKEN.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return key or "body"
        elif token in (b"]", b"}"):
            depth -= 1
        elif token == b":":
            if depth == 1 and last is not None:
                key = _key(last)
        else:
            last = token
    return None


def _key(token: bytes) -> str | None:
    try:
        value = json.loads(token)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > MAX_BODY_BYTES:
            await send_problem(send, 413, f"the request body exceeds {MAX_BODY_BYTES} bytes")
            return
        try:
            body = await read_body(receive)
        except BodyTooLarge as error:
            await send_problem(send, 413, str(error))
            return
        field = too_deep(body)
        if field is not None:
            detail = f"{field} nests deeper than {MAX_JSON_DEPTH} levels"
            await send_problem(send, 400, detail, code="WrongParamType", field=field)
            return
        await self.app(scope, replay_receive(body, receive), send)
