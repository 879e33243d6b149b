"""Small ASGI helpers for the middlewares that answer before a handler runs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import msgspec
from litestar.types import Receive, ReceiveMessage, Scope, Send

from memvault.entrypoints.http.errors import CODES_BY_STATUS, PROBLEM, TITLES


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    raw_headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def problem_body(
    status: int, detail: str, *, code: str | None = None, field: str | None = None
) -> bytes:
    """An ``application/problem+json`` body."""
    problem: dict[str, object] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code or CODES_BY_STATUS.get(status, "Error"),
    }
    if field is not None:
        problem["field"] = field
    return msgspec.json.encode(problem)


async def send_problem(
    send: Send,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    field: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    body = problem_body(status, detail, code=code, field=field)
    await send_bytes(send, status, body, PROBLEM, headers)


MAX_BODY_BYTES = 10_000_000
"""The largest request body the API reads (the app's ``request_max_body_size`` too)."""


class BodyTooLarge(Exception):
    """The request body is longer than the limit; nothing beyond it was read."""


def declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` header as a number (``None`` when absent or not a number)."""
    for key, value in scope.get("headers", []):
        if bytes(key).lower() == b"content-length":
            text = bytes(value).decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() else None
    return None


async def read_body(receive: Receive, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole request body, read chunk by chunk; ``BodyTooLarge`` as soon as more
    than ``limit`` bytes have arrived, so a huge body is never held in memory."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_receive(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body over once, then defers to the real one."""
    sent = False

    async def replay() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            return cast(ReceiveMessage, {"type": "http.request", "body": body, "more_body": False})
        return await receive()

    return replay
