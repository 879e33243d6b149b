"""Extraction quality and speed on the labelled corpus, against baselines from the same run.

Run: ``python -m bench.extraction [--split heldout2|train|all] [--repeat N]
[--vectors-cache PATH] [--gate PATH] [--show-misses]``

The corpus (``tests/data/extraction_corpus.jsonl``) has a ``train`` split (the rules'
own examples and the learned gate's training and validation data) and a ``heldout2``
split (413 messages written and committed before the current gate was tuned, never used
for training or tuning); the default is ``heldout2``. (The first held-out split, looked
at while the earlier gates were tuned, is now part of ``train``.)

Systems compared, each followed by the write path's confidence floor (0.5):
- ``rule-based``: :class:`adapters.extractor.rule_based.RuleBasedExtractor`'s rules
  (before the gate);
- ``rules + gate``: the rules, then the learned gate (``adapters/extractor/gate.py``)
  where they find nothing, on the local e5 vectors (embedded in this run, or read from
  ``--vectors-cache``); left out, with a note, where e5 cannot load;
- ``reference fallback``: the reference's fallback, one fact of confidence 0.45 per
  message, which the floor drops, so it writes nothing (docs/adr/0004);
- ``every message``: one fact per message holding the whole text (the reference's mock).

A prediction is right when its type matches an expected fact and every keyword of that
fact appears in its content (case-insensitive); each expected fact is matched once.
"silent ok" is the share of messages that should give nothing and gave nothing; "flags
ok" the share of right predictions whose ``is_explicit`` and sensitivity (> 0) agree
with the label. The last table counts messages: one is memorable when it has an
expected fact and is found when the system writes something from it; its precision
and recall are the issue's acceptance measure (recall >= 0.85 at precision >= 0.95 in
each language, on the held-out split).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from memvault.adapters.embedder.local import LocalEmbedder
from memvault.adapters.extractor.gate import GATE_FILE, Gate, load_gate
from memvault.adapters.extractor.rule_based import extract_facts, open_to_gate, with_gate
from memvault.application.ports.embedder import EmbedderError, Vector
from memvault.domain.facts import DEFAULT_MIN_CONFIDENCE, CandidateFact

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "extraction_corpus.jsonl"
LANGUAGES = ("en", "zh")

System = Callable[[str], list[CandidateFact]]


def reference_fallback(text: str) -> list[CandidateFact]:
    """One fact per message at confidence 0.45: below the floor, so nothing is written."""
    title = "用户提到：" + text[:24] if text else "用户提到"
    return [CandidateFact(memory_type="fact", content=text, title=title, confidence=0.45)]


def every_message(text: str) -> list[CandidateFact]:
    """Every message is a fact (the reference's mock extractor, confidence 0.6)."""
    return [CandidateFact(memory_type="fact", content=text, title="用户提到", confidence=0.6)]


SYSTEMS: dict[str, System] = {
    "rule-based": extract_facts,
    "reference fallback": reference_fallback,
    "every message": every_message,
}
BASELINE = "every message"
RULES, GATED = "rule-based", "rules + gate"
TARGET_PRECISION, TARGET_RECALL = 0.95, 0.85


def gated(gate: Gate, vectors: dict[str, Vector]) -> System:
    """The offline extractor with its gate, reading each message's vector from ``vectors``."""

    def system(text: str) -> list[CandidateFact]:
        facts = extract_facts(text)
        if facts or not open_to_gate(text):
            return facts
        return with_gate(text, facts, gate.verdict(text, vectors[text]))

    return system


def with_gated(
    corpus: list[Example], cache: Path | None, gate_file: Path = GATE_FILE
) -> tuple[dict[str, System], str]:
    """Every system, the gated one included when e5 loads; and a note on the embedding."""
    texts = [example.text for example in corpus]
    started = time.perf_counter()
    try:
        vectors = corpus_vectors(texts, cache=cache)
    except EmbedderError as error:
        return dict(SYSTEMS), f"{GATED}: left out, the local e5 model cannot load ({error})"
    rate = len(texts) / (time.perf_counter() - started)
    systems = {RULES: extract_facts, GATED: gated(load_gate(gate_file), vectors)}
    systems.update(SYSTEMS)
    source = "read from the cache" if cache is not None else f"{rate:.0f} texts/s"
    return (
        systems,
        f"{GATED}: msgs/s excludes the e5 embedding ({source}), "
        "paid only when the rules find nothing",
    )


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    lang: str
    expected: tuple[dict[str, Any], ...]
    split: str = "train"


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts over a set of messages; the metrics are derived from them."""

    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    silent_wanted: int = 0
    silent_kept: int = 0
    flags_agree: int = 0
    memorable_found: int = 0
    memorable_missed: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            *(mine + theirs for mine, theirs in zip(self.counts, other.counts, strict=True))
        )

    @property
    def counts(self) -> tuple[int, ...]:
        return (
            self.true_positive,
            self.false_positive,
            self.false_negative,
            self.silent_wanted,
            self.silent_kept,
            self.flags_agree,
            self.memorable_found,
            self.memorable_missed,
        )

    @property
    def message_precision(self) -> float:
        """Share of the messages something was written from that are memorable."""
        wrong = self.silent_wanted - self.silent_kept
        found = self.memorable_found + wrong
        return self.memorable_found / found if found else 0.0

    @property
    def message_recall(self) -> float:
        """Share of the memorable messages something was written from."""
        wanted = self.memorable_found + self.memorable_missed
        return self.memorable_found / wanted if wanted else 0.0

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 0.0

    @property
    def recall(self) -> float:
        wanted = self.true_positive + self.false_negative
        return self.true_positive / wanted if wanted else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def flag_agreement(self) -> float:
        """Share of right predictions whose ``is_explicit`` and sensitivity match the label."""
        return self.flags_agree / self.true_positive if self.true_positive else 0.0

    @property
    def silence(self) -> float:
        """Share of the messages that should give nothing which indeed gave nothing."""
        return self.silent_kept / self.silent_wanted if self.silent_wanted else 0.0


@dataclass(frozen=True, slots=True)
class Run:
    name: str
    by_language: dict[str, Tally]
    messages_per_second: float
    misses: tuple[str, ...]

    @property
    def overall(self) -> Tally:
        return sum(self.by_language.values(), Tally())


def load_corpus(path: Path = CORPUS, *, split: str = "all") -> list[Example]:
    """The labelled messages of ``split`` (``train``, ``heldout2`` or ``all``)."""
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [
        Example(row["text"], row["lang"], tuple(row["expected"]), row["split"])
        for row in rows
        if split in ("all", row["split"])
    ]


def corpus_vectors(texts: Sequence[str], *, cache: Path | None = None) -> dict[str, Vector]:
    """The local e5 vectors (``passage:`` side, as the gate sees messages) of ``texts``.

    With ``cache``, vectors already there (same model) are reused and new ones added,
    so iterating on the gate embeds the corpus once (2 CPU cores: about 10 texts/s).
    """
    embedder = LocalEmbedder("e5")
    known = _cached(cache, embedder.name)
    missing = sorted({text for text in texts if text not in known})
    if missing:
        vectors = asyncio.run(embedder.embed_documents(missing))
        known.update(zip(missing, vectors, strict=True))
        if cache is not None:
            np.savez(cache, model=embedder.name, texts=list(known), vectors=list(known.values()))
    return {text: known[text] for text in texts}


def _cached(cache: Path | None, model: str) -> dict[str, Vector]:
    if cache is None or not cache.exists():
        return {}
    with np.load(cache, allow_pickle=False) as data:
        if str(data["model"]) != model:
            return {}
        return dict(zip(data["texts"].tolist(), data["vectors"].tolist(), strict=True))


def written(system: System, text: str) -> list[CandidateFact]:
    """What the write path keeps: candidates at or above the confidence floor."""
    return [fact for fact in system(text) if fact.confidence >= DEFAULT_MIN_CONFIDENCE]


def matches(fact: CandidateFact, expected: dict[str, Any]) -> bool:
    content = fact.content.casefold()
    return fact.memory_type == expected["memory_type"] and all(
        keyword.casefold() in content for keyword in expected["keywords"]
    )


def flags_match(fact: CandidateFact, expected: dict[str, Any]) -> bool:
    labelled = (bool(expected["is_explicit"]), bool(expected["sensitive"]))
    return (fact.is_explicit, fact.sensitivity_level > 0) == labelled


def score(facts: list[CandidateFact], example: Example) -> Tally:
    left = list(example.expected)
    hits = agree = 0
    for fact in facts:
        hit = next((item for item in left if matches(fact, item)), None)
        if hit is not None:
            left.remove(hit)
            hits += 1
            agree += flags_match(fact, hit)
    silent = not example.expected
    found, missed = int(not silent and bool(facts)), int(not silent and not facts)
    return Tally(
        hits,
        len(facts) - hits,
        len(left),
        int(silent),
        int(silent and not facts),
        agree,
        found,
        missed,
    )


def evaluate(name: str, system: System, corpus: list[Example], *, repeat: int) -> Run:
    by_language = {lang: Tally() for lang in LANGUAGES}
    misses: list[str] = []
    for example in corpus:
        tally = score(written(system, example.text), example)
        by_language[example.lang] = by_language[example.lang] + tally
        if tally.false_positive or tally.false_negative:
            misses.append(example.text)
    return Run(name, by_language, throughput(system, corpus, repeat=repeat), tuple(misses))


def throughput(system: System, corpus: list[Example], *, repeat: int) -> float:
    texts = [example.text for example in corpus]
    for text in texts:  # warm-up: the first pass pays for regex caches and imports
        system(text)
    started = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            system(text)
    elapsed = time.perf_counter() - started
    return len(texts) * repeat / elapsed if elapsed else float("inf")


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "n/a"


def quality_table(runs: list[Run], corpus: list[Example], split: str) -> Table:
    base = next(run for run in runs if run.name == BASELINE).overall
    silent = sum(not example.expected for example in corpus)
    table = Table(
        title=f"Extraction on {len(corpus)} {split} messages ({silent} should give nothing), "
        f"floor confidence >= {DEFAULT_MIN_CONFIDENCE}"
    )
    columns = ("system", "TP", "FP", "FN", "precision", "recall", "F1", "silent ok", "flags ok")
    for column in columns:
        table.add_column(column, justify="left" if column == "system" else "right")
    table.add_column(f"F1 vs {BASELINE}", justify="right")
    table.add_column(f"precision vs {BASELINE}", justify="right")
    table.add_column("msgs/s", justify="right")
    for run in runs:
        total = run.overall
        table.add_row(
            run.name,
            str(total.true_positive),
            str(total.false_positive),
            str(total.false_negative),
            f"{total.precision:.3f}",
            f"{total.recall:.3f}",
            f"{total.f1:.3f}",
            f"{total.silence:.3f}",
            f"{total.flag_agreement:.3f}",
            ratio(total.f1, base.f1),
            ratio(total.precision, base.precision),
            f"{run.messages_per_second:,.0f}",
        )
    return table


def language_table(runs: list[Run]) -> Table:
    table = Table(title="Per language")
    for column in ("system", "lang", "TP", "FP", "FN", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column in ("system", "lang") else "right")
    for run in runs:
        for lang, tally in run.by_language.items():
            table.add_row(
                run.name,
                lang,
                str(tally.true_positive),
                str(tally.false_positive),
                str(tally.false_negative),
                f"{tally.precision:.3f}",
                f"{tally.recall:.3f}",
                f"{tally.f1:.3f}",
            )
    return table


def message_table(runs: list[Run], split: str) -> Table:
    table = Table(title=f"Memorable messages ({split}): before (rules) and after (rules + gate)")
    for column in ("system", "lang", "memorable", "found", "precision", "recall", "target"):
        table.add_column(column, justify="left" if column in ("system", "lang") else "right")
    for run in (run for run in runs if run.name in (RULES, GATED)):
        for lang, tally in [*run.by_language.items(), ("all", run.overall)]:
            met = (
                tally.message_precision >= TARGET_PRECISION
                and tally.message_recall >= TARGET_RECALL
            )
            table.add_row(
                run.name,
                lang,
                str(tally.memorable_found + tally.memorable_missed),
                str(tally.memorable_found + tally.silent_wanted - tally.silent_kept),
                f"{tally.message_precision:.3f}",
                f"{tally.message_recall:.3f}",
                "met" if met else "not met",
            )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=20, help="corpus passes for msgs/s")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--split", choices=("heldout2", "train", "all"), default="heldout2")
    parser.add_argument("--gate", type=Path, default=GATE_FILE, help="the gate file to measure")
    parser.add_argument("--vectors-cache", type=Path, help="e5 vectors kept between runs")
    parser.add_argument("--show-misses", action="store_true", help="list the gated misses")
    args = parser.parse_args(argv)
    corpus = load_corpus(args.corpus, split=args.split)
    systems, note = with_gated(corpus, args.vectors_cache, args.gate)
    runs = [evaluate(name, system, corpus, repeat=args.repeat) for name, system in systems.items()]
    console = Console(width=max(Console().width, 132))
    console.print(quality_table(runs, corpus, args.split))
    console.print(language_table(runs))
    console.print(message_table(runs, args.split))
    console.print(note, markup=False)
    if args.show_misses:
        for text in runs[1 if GATED in systems else 0].misses:
            console.print(f"  miss: {text}", markup=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
