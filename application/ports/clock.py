from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the time: timezone-aware UTC, always."""

    def now(self) -> datetime: ...
