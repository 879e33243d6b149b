"""Errors: every non-2xx answer becomes a :class:`MemvaultError` carrying the problem."""

from __future__ import annotations

from typing import Any


class MemvaultError(Exception):
    """A problem response. ``code`` is its stable name (``MemoryItemNotFound``, ...)."""

    def __init__(
        self, status: int, code: str, detail: str, problem: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.problem = problem or {}

    @property
    def field(self) -> str | None:
        """The offending field of a validation problem, when the server names one."""
        value = self.problem.get("field")
        return value if isinstance(value, str) else None


class BadRequest(MemvaultError):
    """400: the request is not valid (``field`` names what is wrong)."""


class Unauthorized(MemvaultError):
    """401: no credential, or an invalid, expired or revoked one."""


class Forbidden(MemvaultError):
    """403: the credential may not do this (e.g. a non-admin key on operator endpoints)."""


class NotFound(MemvaultError):
    """404: absent, or another user's."""


class Conflict(MemvaultError):
    """409: the request contradicts the record's state (e.g. editing a deleted item)."""


class Unprocessable(MemvaultError):
    """422: an idempotency key reused with another body."""


class RateLimited(MemvaultError):
    """429 after every retry was spent."""


class Unavailable(MemvaultError):
    """503 (a dependency is down) after every retry was spent."""


class JobTimeout(TimeoutError):
    """:meth:`wait_for_job` gave up before the job finished."""


BY_STATUS: dict[int, type[MemvaultError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: RateLimited,
    503: Unavailable,
}


def error_for(status: int, body: Any, text: str) -> MemvaultError:
    problem = body if isinstance(body, dict) else {}
    code = str(problem.get("code") or f"HTTP{status}")
    detail = str(problem.get("detail") or text or "no detail")
    return BY_STATUS.get(status, MemvaultError)(status, code, detail, problem)
