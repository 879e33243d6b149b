"""Readiness: every dependency the process needs, checked at once, with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from memvault.application.ports.health import Probe

PROBE_TIMEOUT_S = 2.0


class CheckReadinessUseCase:
    def __init__(self, probes: Mapping[str, Probe | None]) -> None:
        """``None`` marks a dependency this configuration does not have (in-process)."""
        self._probes = {name: probe for name, probe in probes.items() if probe is not None}

    async def __call__(self) -> dict[str, str | None]:
        """Name → ``None`` when ready, else why not."""
        names = list(self._probes)
        results = await asyncio.gather(
            *(self._one(self._probes[name]) for name in names), return_exceptions=False
        )
        return dict(zip(names, results, strict=True))

    @staticmethod
    async def _one(probe: Probe) -> str | None:
        try:
            await asyncio.wait_for(probe.check(), PROBE_TIMEOUT_S)
        except TimeoutError:
            return f"no answer within {PROBE_TIMEOUT_S:g}s"
        except Exception as error:  # a probe reports any failure as "not ready"
            return f"{type(error).__name__}: {error}"
        return None
