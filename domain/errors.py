"""Domain errors. Each carries a stable ``code`` that the HTTP layer exposes unchanged."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule violation the domain reports."""

    code = "DomainError"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidValue(DomainError):
    """A value is outside what the rule allows (a range, a length, an enumeration)."""

    code = "WrongParamType"


class InvalidMemoryType(InvalidValue):
    code = "MemoryInvalidType"


class InvalidMemoryContent(InvalidValue):
    code = "MemoryInvalidContent"


class TooLarge(InvalidValue):
    """A value is bigger than the rule allows (an encoded size, not a length)."""

    code = "PayloadTooLarge"


class NotFound(DomainError):
    """The record does not exist for this user (or belongs to someone else)."""

    code = "NotFound"


class MemoryItemNotFound(NotFound):
    code = "MemoryItemNotFound"


class JobNotFound(NotFound):
    code = "JobNotFound"


class Conflict(DomainError):
    """The request contradicts the current state of the record."""

    code = "Conflict"


class InvalidTransition(Conflict):
    """A state machine was asked for a transition it does not have."""

    code = "InvalidTransition"
