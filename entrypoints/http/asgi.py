"""Small ASGI helpers for the middlewares that answer before a handler runs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import msgspec
from litestar.types import Receive, ReceiveMessage, Send

from entrypoints.http.errors import CODES_BY_STATUS, PROBLEM, TITLES


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


async def send_problem(
    send: Send,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    body = msgspec.json.encode(
        {
            "type": "about:blank",
            "title": TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
            "code": code or CODES_BY_STATUS.get(status, "Error"),
        }
    )
    await send_bytes(send, status, body, PROBLEM, headers)


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
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
