"""Every request gets an id: the caller's ``X-Request-Id`` when it is a sane token, else
a new one. It is returned in the response's ``X-Request-Id``, bound to every log line
written while the request runs, and carried into the work the request causes
(``application/request_context.py``)."""

from __future__ import annotations

import re
import uuid

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from memvault.application.request_context import REQUEST_ID

HEADER = "x-request-id"
SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}")
"""Up to 128 characters that are safe in logs, headers and JSON without escaping."""


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name.lower() == HEADER.encode():
            text = value.decode("latin-1").strip()
            if SANE.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[HEADER] = request_id
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
