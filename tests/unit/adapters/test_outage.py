"""Which exceptions mean "a dependency is down" (docs/behaviour.md, "HTTP edges")."""

from __future__ import annotations

import sqlite3

import pytest
import redis.exceptions
from sqlalchemy import exc as sa_exc

from memvault.adapters.outage import unavailable_dependency


def wrapped(error: BaseException) -> RuntimeError:
    try:
        raise RuntimeError("wrapper") from error
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("error", "dependency"),
    [
        (sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
         "database"),
        (sa_exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")), "database"),
        (sa_exc.TimeoutError("QueuePool limit reached"), "database"),
        (redis.exceptions.ConnectionError("Connection refused"), "broker"),
        (redis.exceptions.TimeoutError("Timeout reading"), "broker"),
        (ConnectionRefusedError(111, "Connect call failed"), "dependency"),
        (wrapped(ConnectionRefusedError(111, "refused")), "dependency"),
        (TimeoutError(), "dependency"),
    ],
)  # fmt: skip
def test_outages_are_recognised(error: BaseException, dependency: str) -> None:
    assert unavailable_dependency(error) == dependency


@pytest.mark.parametrize(
    "error",
    [
        sa_exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
        ValueError("a bug"),
        KeyError("missing"),
        redis.exceptions.ResponseError("WRONGTYPE"),
    ],
)
def test_defects_are_not_outages(error: BaseException) -> None:
    assert unavailable_dependency(error) is None
