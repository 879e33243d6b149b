"""Column types that behave the same on PostgreSQL, MySQL/MariaDB and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, String, Text, TypeDecorator
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

Id = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit key that SQLite still auto-increments (only ``INTEGER PRIMARY KEY`` does)."""

LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
"""JSON documents and payloads: MySQL's ``TEXT`` stops at 64 KiB."""


def exact_collation(dialect: Dialect) -> str:
    """The binary, NO PAD ``utf8mb4`` collation of this MySQL-family server.

    ``utf8mb4_bin`` is not enough: it is a PAD SPACE collation, so ``'bob' = 'bob '``
    still holds and a unique key treats them as one. MariaDB (10.2+) calls the NO PAD
    binary collation ``utf8mb4_nopad_bin``, MySQL (8.0.17+) ``utf8mb4_0900_bin``.
    """
    return "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"


class ExactString(TypeDecorator[str]):
    """An identifier compared byte for byte on every dialect.

    MySQL/MariaDB's default ``utf8mb4`` collations compare case- and accent-insensitively
    and ignore trailing spaces (``'alice' = 'ALICE ' = 'alicé'``), which would let two
    users see each other's rows; a binary NO PAD collation (:func:`exact_collation`)
    compares the bytes. PostgreSQL and SQLite already compare text exactly. Equality,
    unique keys, ``GROUP BY`` and ``ORDER BY`` on these columns all follow the bytes.
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            exact = mysql.VARCHAR(
                self.length, charset="utf8mb4", collation=exact_collation(dialect)
            )
            return dialect.type_descriptor(exact)
        return dialect.type_descriptor(String(self.length))


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC with microseconds; always returns timezone-aware UTC.

    MySQL's ``DATETIME`` has no zone and SQLite stores text, so the zone is normalised
    here once instead of at every call site.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not accepted; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, the stored text straight to an aware datetime in one call (the
        read path parses five of these per candidate row)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_utc


def _sqlite_utc(value: str | None) -> datetime | None:
    """SQLAlchemy's SQLite ``DATETIME`` text (``YYYY-MM-DD HH:MM:SS.ffffff``), as UTC."""
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
