"""Which dependency an exception says is down (docs/behaviour.md, "HTTP edges").

The HTTP edge answers 503 with ``Retry-After`` for these instead of 500, and the
workers treat them as transient failures. Only driver exceptions that mean "could not
reach or could not lock" count: a constraint violation or a syntax error is a defect,
not an outage.
"""

from __future__ import annotations

import socket

from sqlalchemy import exc as sa_exc

from memvault.application.ports.failures import FailureKind, failure_kind

DATABASE = "database"
BROKER = "broker"
DEPENDENCY = "dependency"

_MAX_CHAIN = 16


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes, outermost first (bounded: chains can loop)."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(found) < _MAX_CHAIN and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _database(error: BaseException) -> bool:
    if isinstance(error, sa_exc.TimeoutError):  # the pool had no free connection in time
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
    return "database is locked" in str(error)


def _broker(error: BaseException) -> bool:
    module = type(error).__module__
    name = type(error).__name__
    if module.startswith(("redis.", "aiokafka.", "kafka.", "pika.", "aio_pika.")):
        return "Connection" in name or "Timeout" in name or "NoBrokers" in name
    return module.startswith("dramatiq.") and name == "ConnectionError"


def unavailable_dependency(error: BaseException) -> str | None:
    """``"database"``, ``"broker"`` or ``"dependency"`` when ``error`` (or one of its
    causes) means that dependency cannot be reached right now; ``None`` otherwise."""
    chain = _chain(error)
    for link in chain:
        if _database(link):
            return DATABASE
        if _broker(link):
            return BROKER
    for link in chain:
        if isinstance(link, ConnectionError | TimeoutError | socket.gaierror):
            return DEPENDENCY
    return None


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is a passing outage: a dependency that cannot be reached now
    (this module's classifier) or a failure an adapter marked transient."""
    return unavailable_dependency(error) is not None or failure_kind(error) is FailureKind.TRANSIENT
