"""The OpenAPI document states every response an operation can really give.

Litestar documents the success response of each handler and a 400 of its own shape.
The errors this API answers come from middlewares and the error mapping in
``errors.py`` (all ``application/problem+json``), so they are added here, once, from
what each operation is: protected or public, admin or not, mutating, with a body or
path ids. The bearer scheme is declared and required where the JWT middleware applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
    SecurityScheme,
)

from memvault.entrypoints.http.errors import PROBLEM, TITLES

BEARER = "BearerToken"
MUTATING = {"post", "put", "patch", "delete"}

_TEXT = Schema(type=OpenAPIType.STRING)
PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    description="An RFC 9457 problem; ``code`` is stable, ``field`` names the bad input.",
    required=["type", "title", "status", "detail", "code"],
    properties={
        "type": _TEXT,
        "title": _TEXT,
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": _TEXT,
        "code": _TEXT,
        "field": Schema(one_of=[_TEXT, Schema(type=OpenAPIType.NULL)]),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                properties={"field": _TEXT, "message": _TEXT},
            ),
        ),
        "checks": Schema(type=OpenAPIType.OBJECT),
    },
)
_RETRY_AFTER = OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description="Seconds")
_HEADERS = {429: {"Retry-After": _RETRY_AFTER}, 503: {"Retry-After": _RETRY_AFTER}}
WHY = {
    400: "A parameter or the body breaks the documented rules (``field`` names it)",
    401: "No valid bearer token",
    403: "The token lacks the admin scope",
    404: "No such record for this user",
    409: "The record's state forbids it, or a request with this Idempotency-Key is running",
    413: "The body exceeds the size limit",
    422: "This Idempotency-Key was used with another request",
    429: "Too many requests from this user",
    503: "A dependency (database, bus, vector store) is unavailable",
}


_PROMETHEUS = OpenAPIResponse(
    description="Prometheus text exposition format",
    content={"text/plain": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
)


_EXPORT = OpenAPIResponse(
    description="The memories, one JSON object per line (or one JSON array with ?format=json)",
    content={
        "application/x-ndjson": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
        "application/json": OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT))
        ),
    },
)
STREAMED_EXPORTS = ("/api/v1/memory/export", "/api/v1/admin/export")
"""Streamed exports: Litestar cannot describe a ``Stream``'s media types itself."""


def _problem(status: int) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=WHY.get(status, TITLES.get(status, "Error")),
        headers=dict(_HEADERS.get(status, {})) or None,
        content={PROBLEM: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))},
    )


def _statuses(path: str, method: str, operation: Operation, public: bool) -> Iterable[int]:
    if public:
        return (503,) if path == "/readyz" else ()
    statuses = {401, 429, 503}
    if operation.parameters or operation.request_body or method in MUTATING:
        statuses.add(400)
    if "{" in path:
        statuses.add(404)
    if method in MUTATING:
        statuses |= {409, 413, 422}
    if path.startswith("/api/v1/admin"):
        statuses.add(403)
    return sorted(statuses)


def document_problems(document: OpenAPI, public_paths: Iterable[str]) -> None:
    """Add the problem responses, the ``Problem`` schema and bearer security in place."""
    public = [re.compile(pattern) for pattern in public_paths]
    components = document.components
    if not isinstance(components, Components):
        components = document.components = Components()
    components.schemas = {**(components.schemas or {}), "Problem": PROBLEM_SCHEMA}
    components.security_schemes = {
        **(components.security_schemes or {}),
        BEARER: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
    }
    for path, item in (document.paths or {}).items():
        is_public = any(p.match(path) for p in public)
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if not isinstance(operation, Operation):
                continue
            responses = operation.responses = dict(operation.responses or {})
            responses.pop("400", None)  # Litestar's own shape; ours replaces it if it applies
            for status in _statuses(path, method, operation, is_public):
                responses[str(status)] = _problem(status)
            if not is_public:
                operation.security = [{BEARER: []}]
    for path in STREAMED_EXPORTS:
        export = (document.paths or {}).get(path)
        if export is not None and isinstance(export.get, Operation):
            export.get.responses = {**(export.get.responses or {}), "200": _EXPORT}
    metrics = (document.paths or {}).get("/metrics")
    if metrics is not None and isinstance(metrics.get, Operation):
        metrics.get.responses = {"200": _PROMETHEUS}
