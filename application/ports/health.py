from __future__ import annotations

from typing import Protocol


class Probe(Protocol):
    """Checks one dependency; raises with a readable message when it is not usable."""

    async def check(self) -> None: ...
