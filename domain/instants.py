"""The instants memvault stores: timezone-aware, within years 1000 to 9999 in UTC.

The bounds hold on every dialect (MySQL ``DATETIME`` starts at year 1000) and keep a
day of headroom under Python's ``datetime.max``, so that adding a day never overflows.
A time whose offset pushes it outside the range after conversion to UTC (year 1 at
+01:00, 9999-12-31 at -01:00) is refused, never converted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from memvault.domain.errors import InvalidValue

MIN_INSTANT = datetime(1000, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


def utc_instant(value: datetime, *, field: str) -> datetime:
    """``value`` in UTC (a naive time is taken as UTC); ``InvalidValue`` naming ``field``
    when it lies outside ``MIN_INSTANT``..``MAX_INSTANT``."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    # Comparing aware datetimes subtracts their offsets without building a new datetime,
    # so it cannot overflow where ``astimezone`` would.
    if not MIN_INSTANT <= aware <= MAX_INSTANT:
        raise InvalidValue(
            f"{field} must lie between {MIN_INSTANT.isoformat()} and "
            f"{MAX_INSTANT.isoformat()} after conversion to UTC",
            field=field,
        )
    return aware.astimezone(UTC)
