"""The synchronous client."""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from memvault_client import _core
from memvault_client._core import Call, Credentials, RetryPolicy
from memvault_client.errors import JobTimeout
from memvault_client.models import (
    AcceptedMessage,
    AuditEntry,
    Context,
    Job,
    Memory,
    SearchResult,
    Settings,
)

T = TypeVar("T")
Types = str | Iterable[str] | None


class Client:
    """memvault over HTTP. ``api_key`` (``mv_...``) or ``token`` (a JWT) authenticates;
    ``user_id`` names the user a ``service`` key acts for (each call may override it).

    Mutations carry an automatic ``Idempotency-Key``; 429, 503 and connection errors are
    retried (honouring ``Retry-After``); other errors raise :class:`MemvaultError`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        user_id: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._credentials = Credentials(api_key=api_key, token=token, user_id=user_id)
        self._retry = retry or RetryPolicy()
        self._http = http or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        headers = self._credentials.headers(call)
        last = self._retry.attempts - 1
        for attempt in range(self._retry.attempts):
            try:
                response = self._http.request(
                    call.method, call.path, json=call.json, params=call.params, headers=headers
                )
            except httpx.TransportError:
                if attempt == last:
                    raise
                time.sleep(self._retry.delay(attempt, None))
                continue
            if attempt < last and _core.should_retry(response):
                time.sleep(self._retry.delay(attempt, response.headers.get("retry-after")))
                continue
            return _core.read(call, response)
        raise AssertionError("unreachable: the last attempt returns or raises")

    # Memory items ----------------------------------------------------------------------

    def add(
        self, content: str, *, memory_type: str = "fact", user_id: str | None = None, **fields: Any
    ) -> Memory:
        """Store one memory. ``fields``: title, conversation_id, assistant_id, run_id,
        confidence, importance, sensitivity_level, is_explicit, ttl_at, reason, ..."""
        body = {"content": content, "memory_type": memory_type, **fields}
        return self._send(_core.add(user_id, body))

    def add_many(
        self, items: Sequence[Mapping[str, Any]], *, user_id: str | None = None
    ) -> builtins.list[Memory]:
        """Store up to 500 memories, all or nothing (each a dict of ``add``'s fields;
        ``memory_type`` defaults to ``fact``)."""
        return self._send(_core.add_many(user_id, items))

    def get(self, item_id: int, *, user_id: str | None = None) -> Memory:
        return self._send(_core.get(user_id, item_id))

    def list(
        self,
        *,
        status: Types = None,
        memory_type: Types = None,
        conversation_id: str | None = None,
        page_size: int | None = None,
        user_id: str | None = None,
    ) -> Iterator[Memory]:
        """Every matching memory, fetched a page at a time as the iterator advances."""
        cursor: str | None = None
        while True:
            items, cursor = self._send(
                _core.page(
                    user_id,
                    status=status,
                    memory_type=memory_type,
                    conversation_id=conversation_id,
                    page_size=page_size,
                    cursor=cursor,
                )
            )
            yield from items
            if cursor is None:
                return

    def update(self, item_id: int, *, user_id: str | None = None, **changes: Any) -> Memory:
        """Change fields of a memory (content, title, memory_type, importance, ...)."""
        return self._send(_core.update(user_id, item_id, changes))

    def delete(
        self, item_id: int, *, reason: str | None = None, user_id: str | None = None
    ) -> Memory:
        """Soft-delete (idempotent); :meth:`restore` brings it back."""
        return self._send(_core.delete(user_id, item_id, reason))

    def restore(
        self, item_id: int, *, reason: str | None = None, user_id: str | None = None
    ) -> Memory:
        return self._send(_core.restore(user_id, item_id, reason))

    def history(self, item_id: int, *, user_id: str | None = None) -> builtins.list[AuditEntry]:
        """The memory's audit entries, oldest first."""
        return self._send(_core.history(user_id, item_id))

    # Retrieval and ingestion -----------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int | None = None,
        memory_types: Sequence[str] | None = None,
        type_budget: Mapping[str, int] | None = None,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        **options: Any,
    ) -> SearchResult:
        """Ranked memories, best first: ``limit`` of them (5 by default, at most 100),
        of ``memory_types``, at most ``type_budget[t]`` of type ``t`` (``{"fact": 3}``),
        only those whose metadata holds every pair of ``metadata``. ``options``:
        assistant_id, run_id."""
        fields = _core.search_fields(query, limit, memory_types, type_budget, metadata)
        return self._send(_core.search(user_id, fields | options))

    def context(self, query: str, *, user_id: str | None = None, **options: Any) -> Context:
        """The rendered memory block for a prompt. ``options``: conversation_id,
        assistant_id, run_id, limit, render_mode, max_tokens, language, ..."""
        return self._send(_core.context(user_id, {"query": query, **options}))

    def ingest_messages(
        self,
        conversation_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        assistant_id: str | None = None,
        run_id: str | None = None,
        user_id: str | None = None,
    ) -> builtins.list[AcceptedMessage]:
        """Store chat turns (``{"role", "content", "message_id"?, "occurred_at"?}``);
        memories are extracted in the background (see :meth:`wait_for_job`)."""
        return self._send(
            _core.ingest(
                user_id, conversation_id, messages, assistant_id=assistant_id, run_id=run_id
            )
        )

    # Settings and jobs -----------------------------------------------------------------

    def settings(self, *, user_id: str | None = None) -> Settings:
        return self._send(_core.settings(user_id, None))

    def update_settings(
        self,
        *,
        memory_enabled: bool | None = None,
        implicit_memory_enabled: bool | None = None,
        sensitive_memory_enabled: bool | None = None,
        user_id: str | None = None,
    ) -> Settings:
        """Change the user's switches; those left ``None`` keep their value."""
        changes = {
            "memory_enabled": memory_enabled,
            "implicit_memory_enabled": implicit_memory_enabled,
            "sensitive_memory_enabled": sensitive_memory_enabled,
        }
        return self._send(_core.settings(user_id, changes))

    def job(self, job_id: int, *, user_id: str | None = None) -> Job:
        return self._send(_core.job(user_id, job_id))

    def jobs(
        self,
        *,
        status: Types = None,
        conversation_id: str | None = None,
        message_id: str | None = None,
        job_key: str | None = None,
        page_size: int | None = None,
        user_id: str | None = None,
    ) -> Iterator[Job]:
        """The user's extraction jobs, newest first, a page at a time."""
        cursor: str | None = None
        while True:
            jobs, cursor = self._send(
                _core.job_page(
                    user_id,
                    status=status,
                    conversation_id=conversation_id,
                    message_id=message_id,
                    job_key=job_key,
                    page_size=page_size,
                    cursor=cursor,
                )
            )
            yield from jobs
            if cursor is None:
                return

    def wait_for_job(
        self,
        job: str | int,
        *,
        timeout: float = 60.0,
        interval: float = 0.2,
        user_id: str | None = None,
    ) -> Job:
        """Poll until the job (a ``job_key`` from :meth:`ingest_messages`, or a job id)
        succeeds or is dead; :class:`JobTimeout` after ``timeout`` seconds. A job key
        may name a job that does not exist yet (it is made in the background)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._find_job(job, user_id)
            if found is not None and found.finished:
                return found
            if time.monotonic() >= deadline:
                raise JobTimeout(f"job {job} did not finish in {timeout} s")
            time.sleep(interval)

    def _find_job(self, job: str | int, user_id: str | None) -> Job | None:
        if isinstance(job, int):
            return self.job(job, user_id=user_id)
        found, _ = self._send(_core.job_page(user_id, job_key=job, page_size=1))
        return found[0] if found else None
