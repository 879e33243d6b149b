"""Synthetic memories and queries for the load benchmarks, drawn from the labelled set.

Each memory joins two or three memories of ``tests/data/retrieval`` (English, Chinese
and mixed chat memories), about 140 characters, like the conversational turns the
service stores; each query is one of the set's questions. Seeded: the same arguments
give the same corpus.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "retrieval"
TYPES = ("preference", "fact", "constraint")


@dataclass(frozen=True, slots=True)
class SyntheticMemory:
    user: str
    memory_type: str
    content: str


def _column(name: str, field: str) -> list[str]:
    with (DATA / name).open(encoding="utf-8") as lines:
        return [json.loads(line)[field] for line in lines if line.strip()]


def user_name(n: int) -> str:
    return f"bench-user-{n:05d}"


def memories(count: int, users: int, *, seed: int = 7) -> Iterator[SyntheticMemory]:
    """``count`` memories spread evenly over ``users`` users, user by user."""
    texts = _column("memories.jsonl", "content")
    rng = random.Random(seed)
    for n in range(count):
        parts = rng.sample(texts, rng.choice((2, 3)))
        yield SyntheticMemory(
            user=user_name(n * users // count),
            memory_type=rng.choice(TYPES),
            content=" ".join(parts)[:1000],
        )


def queries(*, seed: int = 11) -> Iterator[str]:
    """The labelled set's questions, shuffled, forever."""
    questions = _column("questions.jsonl", "query")
    rng = random.Random(seed)
    while True:
        rng.shuffle(questions)
        yield from questions
