"""Test doubles for the job lifecycle: an extractor that fails on demand and a job
queue that holds its messages, as if no worker were consuming them."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Sequence

from memvault.application.ports.extractor import ExtractionError, ExtractionRequest, Extractor
from memvault.application.ports.job_queue import JobQueue
from memvault.domain.facts import CandidateFact


class ScriptedExtractor(Extractor):
    """Raises :class:`ExtractionError` the scripted number of times for a user, then
    hands the request to the real extractor; a held message waits until :meth:`go_on`.
    Called from the workers' loop thread."""

    def __init__(self, real: Extractor) -> None:
        self._real = real
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, str]] = {}
        self._held: set[tuple[str, str]] = set()
        self._going_on = threading.Event()

    def hold(self, user_id: str, text: str) -> None:
        with self._lock:
            self._held.add((user_id, text))

    def go_on(self) -> None:
        self._going_on.set()

    def fail(self, user_id: str, *, times: int, reason: str) -> None:
        with self._lock:
            self._failures[user_id] = (times, reason)

    async def extract(self, request: ExtractionRequest) -> list[CandidateFact]:
        if (request.user_id, request.text) in self._held:
            # A thread's event, polled so that a lost lease can cancel the wait.
            while not self._going_on.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        with self._lock:
            left, reason = self._failures.get(request.user_id, (0, ""))
            if left > 0:
                self._failures[request.user_id] = (left - 1, reason)
        if left > 0:
            raise ExtractionError(reason)
        return await self._real.extract(request)


class HeldJobQueue(JobQueue):
    """Passes job ids to the real queue, except while paused: then each job id is held
    (once, with its delay) until :meth:`release` or :meth:`resume` sends it on."""

    def __init__(self, real: JobQueue) -> None:
        self._real = real
        self._lock = threading.Lock()
        self._paused = False
        self._held: dict[int, int] = {}
        self.sends: Counter[int] = Counter()
        """Messages per job id, held or sent on."""

    async def enqueue(self, job_ids: Sequence[int], *, delay_ms: int = 0) -> None:
        with self._lock:
            self.sends.update(job_ids)
            if self._paused:
                for job_id in job_ids:
                    self._held.setdefault(job_id, delay_ms)
                return
        await self._real.enqueue(job_ids, delay_ms=delay_ms)

    def held_delay(self, job_id: int) -> int | None:
        """The delay (ms) the job id was sent with, while it is held; else ``None``."""
        with self._lock:
            return self._held.get(job_id)

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def release(self) -> None:
        """Send what is held (from a thread with no running loop); stay paused."""
        with self._lock:
            held, self._held = self._held, {}
        for job_id, delay_ms in held.items():
            asyncio.run(self._real.enqueue([job_id], delay_ms=delay_ms))

    def resume(self) -> None:
        with self._lock:
            self._paused = False
        self.release()
