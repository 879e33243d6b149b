"""Every error becomes ``application/problem+json`` with a stable ``code``."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from memvault.container import unavailable_dependency
from memvault.domain.errors import (
    Conflict,
    DomainError,
    InvalidMemoryType,
    InvalidValue,
    NotFound,
    TooLarge,
)

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"
CODES_BY_STATUS = {
    400: "WrongParamType",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    422: "Unprocessable",
    429: "RateLimited",
    503: "Unavailable",
}
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(
    status: int, detail: str, *, code: str | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code or CODES_BY_STATUS.get(status, "Error"),
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(body, status_code=status, media_type=PROBLEM, headers=headers)


def _domain_status(error: DomainError) -> int:
    if isinstance(error, TooLarge):
        return 413
    if isinstance(error, InvalidValue):
        return 400
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    return 400


def domain_error(_: Request[Any, Any, Any], error: DomainError) -> Response[dict[str, Any]]:
    extra = {"field": error.field} if error.field else {}
    return problem(_domain_status(error), error.detail, code=error.code, **extra)


def _field_name(entry: dict[str, Any]) -> str:
    key = str(entry.get("key") or "")
    message = str(entry.get("message") or "")
    if key:
        return key
    # msgspec reports the location inside the message: "... - at `$.items[0].content`"
    marker = "at `$."
    if marker in message:
        return message.split(marker, 1)[1].rstrip("`")
    return "body"


# Codes that name a rule more precisely than WrongParamType, by the failing field's name.
_FIELD_CODES = {"memory_type": InvalidMemoryType.code, "memory_types": InvalidMemoryType.code}
_RULE_MESSAGE = (
    "must not be blank or hold NUL or control characters other than tab, line feed and"
    " carriage return"
)


def _message(entry: dict[str, Any]) -> str:
    message = str(entry.get("message", ""))
    # msgspec words a pattern failure as the regex itself: say the rule instead.
    return _RULE_MESSAGE if "matching regex" in message else message


def _code(fields: list[str]) -> str:
    last = fields[0].rsplit(".", 1)[-1].split("[", 1)[0] if fields else ""
    return _FIELD_CODES.get(last, "WrongParamType")


def validation_error(
    _: Request[Any, Any, Any], error: ValidationException
) -> Response[dict[str, Any]]:
    entries = error.extra if isinstance(error.extra, list) else []
    errors = [
        {"field": _field_name(entry), "message": _message(entry)}
        for entry in entries
        if isinstance(entry, dict)
    ]
    fields = ", ".join(e["field"] for e in errors) or "request"
    detail = (
        f"invalid {fields}: " + "; ".join(e["message"] for e in errors)
        if errors
        else (error.detail or "the request is not valid")
    )
    first = errors[0]["field"] if errors else None
    code = _code([e["field"] for e in errors])
    return problem(400, detail, code=code, field=first, errors=errors)


def http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    """A Litestar HTTP exception as a problem; every 503 says when to come back."""
    status = error.status_code
    if isinstance(error, NotAuthorizedException):
        status = 401
    elif isinstance(error, PermissionDeniedException):
        status = 403
    headers = getattr(error, "headers", None) or {}
    response = problem(status, str(error.detail))
    response.headers.update(headers)
    if status == 503 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(_retry_after(request))
    return response


DEFAULT_RETRY_AFTER_S = 5


def _retry_after(request: Request[Any, Any, Any]) -> int:
    container = getattr(request.app.state, "container", None)
    if container is None:
        return DEFAULT_RETRY_AFTER_S
    return int(container.settings().unavailable_retry_after_s)


def unavailable(request: Request[Any, Any, Any], dependency: str) -> Response[dict[str, Any]]:
    """503 with ``Retry-After``: a dependency is down or locked, the request may be sent
    again unchanged. The detail names the dependency, never its host or path."""
    response = problem(503, f"the {dependency} is unavailable; try again later", code="Unavailable")
    response.headers["Retry-After"] = str(_retry_after(request))
    return response


def unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    dependency = unavailable_dependency(error)
    if dependency is not None:
        log.warning(
            "dependency_unavailable",
            dependency=dependency,
            path=request.url.path,
            error=f"{type(error).__name__}: {error}",
        )
        return unavailable(request, dependency)
    log.exception("unhandled_error", path=request.url.path, method=request.method)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR, "an unexpected error occurred", code="InternalError"
    )


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
