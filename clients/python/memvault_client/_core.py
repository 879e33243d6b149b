"""What the sync and async clients share: the calls, the retry policy, the headers and
the reading of responses. The clients only send."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import httpx

from memvault_client import models
from memvault_client.errors import error_for

T = TypeVar("T")
API = "/api/v1/memory"
RETRY_STATUSES = frozenset({429, 503})
USER_HEADER = "X-Memvault-User"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Retries on 429, 503 and connection errors: exponential backoff with jitter, or
    the server's ``Retry-After`` when it sends one (capped at ``max_delay``)."""

    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 20.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        hinted = _retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_delay)
        backoff = self.base_delay * 2**attempt
        return float(min(backoff * (0.5 + random.random() / 2), self.max_delay))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Generic[T]):
    """One API request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    params: Mapping[str, Any] | None = None
    mutation: bool = False
    """Mutations carry an ``Idempotency-Key`` (the same on every retry)."""
    user_id: str | None = None


@dataclass(slots=True, kw_only=True)
class Credentials:
    api_key: str | None = None
    token: str | None = None
    user_id: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self, call: Call[Any]) -> dict[str, str]:
        headers = dict(self.extra_headers)
        secret = self.api_key or self.token
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        user = call.user_id or self.user_id
        if user:
            headers[USER_HEADER] = user
        if call.mutation:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        return headers


def read(call: Call[T], response: httpx.Response) -> T:
    if response.is_success:
        return call.parse(response.json() if response.content else None)
    try:
        body = response.json()
    except ValueError:
        body = None
    raise error_for(response.status_code, body, response.text)


def should_retry(response: httpx.Response) -> bool:
    return response.status_code in RETRY_STATUSES


def _body(values: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body: unset (``None``) fields left out, datetimes as ISO 8601."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in values.items()
        if value is not None
    }


def _csv(values: str | Iterable[str] | None) -> str | None:
    if values is None:
        return None
    return values if isinstance(values, str) else ",".join(values)


def _params(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


# Memory items ------------------------------------------------------------------------


def add(user_id: str | None, fields: Mapping[str, Any]) -> Call[models.Memory]:
    return Call(
        method="POST",
        path=f"{API}/items",
        json=_body(fields),
        parse=models.memory,
        mutation=True,
        user_id=user_id,
    )


def add_many(user_id: str | None, items: Sequence[Mapping[str, Any]]) -> Call[list[models.Memory]]:
    return Call(
        method="POST",
        path=f"{API}/items/batch",
        json={"items": [_body({"memory_type": "fact", **item}) for item in items]},
        parse=models.memories,
        mutation=True,
        user_id=user_id,
    )


def get(user_id: str | None, item_id: int) -> Call[models.Memory]:
    return Call(method="GET", path=f"{API}/items/{item_id}", parse=models.memory, user_id=user_id)


def page(
    user_id: str | None,
    *,
    status: str | Iterable[str] | None,
    memory_type: str | Iterable[str] | None,
    conversation_id: str | None,
    page_size: int | None,
    cursor: str | None,
) -> Call[tuple[list[models.Memory], str | None]]:
    def parse(data: dict[str, Any]) -> tuple[list[models.Memory], str | None]:
        return models.memories(data), data.get("next_cursor")

    params = _params(
        status=_csv(status),
        memory_type=_csv(memory_type),
        conversation_id=conversation_id,
        limit=page_size,
        cursor=cursor,
    )
    return Call(method="GET", path=f"{API}/items", params=params, parse=parse, user_id=user_id)


def update(user_id: str | None, item_id: int, changes: Mapping[str, Any]) -> Call[models.Memory]:
    return Call(
        method="PATCH",
        path=f"{API}/items/{item_id}",
        json=_body(changes),
        parse=models.memory,
        mutation=True,
        user_id=user_id,
    )


def delete(user_id: str | None, item_id: int, reason: str | None) -> Call[models.Memory]:
    return Call(
        method="DELETE",
        path=f"{API}/items/{item_id}",
        json=_body({"reason": reason}) or None,
        parse=models.memory,
        mutation=True,
        user_id=user_id,
    )


def restore(user_id: str | None, item_id: int, reason: str | None) -> Call[models.Memory]:
    return Call(
        method="POST",
        path=f"{API}/items/{item_id}/restore",
        json=_body({"reason": reason}) or None,
        parse=models.memory,
        mutation=True,
        user_id=user_id,
    )


def history(user_id: str | None, item_id: int) -> Call[list[models.AuditEntry]]:
    return Call(
        method="GET",
        path=f"{API}/items/{item_id}/history",
        parse=lambda data: [models.build(models.AuditEntry, e) for e in data["items"]],
        user_id=user_id,
    )


# Retrieval and ingestion ---------------------------------------------------------------


def search_fields(
    query: str,
    limit: int | None,
    memory_types: Sequence[str] | None,
    type_budget: Mapping[str, int] | None,
    metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The body of ``POST /search`` (unset arguments left to the server's defaults)."""
    return {
        "query": query,
        "limit": limit,
        "memory_types": list(memory_types) if memory_types is not None else None,
        "type_budget": dict(type_budget) if type_budget is not None else None,
        "metadata": dict(metadata) if metadata is not None else None,
    }


def search(user_id: str | None, fields: Mapping[str, Any]) -> Call[models.SearchResult]:
    return Call(
        method="POST",
        path=f"{API}/search",
        json=_body(fields),
        parse=lambda data: models.SearchResult(
            items=models.memories(data), degraded=bool(data.get("degraded"))
        ),
        user_id=user_id,
    )


def context(user_id: str | None, fields: Mapping[str, Any]) -> Call[models.Context]:
    return Call(
        method="POST",
        path=f"{API}/context",
        json=_body(fields),
        parse=lambda data: models.Context(
            text=data["text"],
            items=models.memories(data),
            degraded=bool(data.get("degraded")),
            skipped=bool(data.get("skipped")),
        ),
        user_id=user_id,
    )


def ingest(
    user_id: str | None,
    conversation_id: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    assistant_id: str | None,
    run_id: str | None,
) -> Call[list[models.AcceptedMessage]]:
    body = _body(
        {
            "conversation_id": conversation_id,
            "assistant_id": assistant_id,
            "run_id": run_id,
            "messages": [_body(m) for m in messages],
        }
    )
    return Call(
        method="POST",
        path=f"{API}/messages",
        json=body,
        parse=lambda data: [models.build(models.AcceptedMessage, m) for m in data["messages"]],
        mutation=True,
        user_id=user_id,
    )


# Settings and jobs ---------------------------------------------------------------------


def settings(user_id: str | None, changes: Mapping[str, Any] | None) -> Call[models.Settings]:
    return Call(
        method="GET" if changes is None else "PUT",
        path=f"{API}/settings",
        json=None if changes is None else _body(changes),
        parse=lambda data: models.build(models.Settings, data),
        mutation=changes is not None,
        user_id=user_id,
    )


def job(user_id: str | None, job_id: int) -> Call[models.Job]:
    return Call(
        method="GET",
        path=f"{API}/jobs/{job_id}",
        parse=lambda data: models.build(models.Job, data),
        user_id=user_id,
    )


def job_page(
    user_id: str | None,
    *,
    status: str | Iterable[str] | None = None,
    conversation_id: str | None = None,
    message_id: str | None = None,
    job_key: str | None = None,
    page_size: int | None = None,
    cursor: str | None = None,
) -> Call[tuple[list[models.Job], str | None]]:
    def parse(data: dict[str, Any]) -> tuple[list[models.Job], str | None]:
        return [models.build(models.Job, j) for j in data["items"]], data.get("next_cursor")

    params = _params(
        status=_csv(status),
        conversation_id=conversation_id,
        message_id=message_id,
        job_key=job_key,
        limit=page_size,
        cursor=cursor,
    )
    return Call(method="GET", path=f"{API}/jobs", params=params, parse=parse, user_id=user_id)
