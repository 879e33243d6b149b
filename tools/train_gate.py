"""Train the extraction gate (adapters/extractor/gate.npz) on the corpus's train split.

Run from the repository root (numpy only; the first run embeds the corpus, about 10
texts/s on two cores; one BLAS thread avoids oversubscription on a shared machine):
``OPENBLAS_NUM_THREADS=1 python tools/train_gate.py [--cache /tmp/gate-vectors.npz]
[--target-precision 0.95] [--target-recall 0.85]``

1. Embeds the train split of ``tests/data/extraction_corpus.jsonl`` with the local e5
   model (``--cache`` keeps the vectors between runs), and the label-keeping variants of
   its messages (:func:`variants`: without or with the leading "I"/"我", lower-cased at
   the start). The held-out split (``heldout2``) is never read.
2. Labels each message ``none`` or the type of its first expected fact, and fits a
   weighted multinomial logistic regression on the vector, the gate's cues and its
   hashed n-grams (``adapters.extractor.gate.features``; the vector and cues
   standardised, the 0/1 buckets divided by ``HASHED_SCALE``; L2, full-batch gradient
   descent). Each language's memorable and other messages weigh the same in all
   (:func:`balanced`); a variant weighs ``VARIANT_WEIGHT`` of its message. For each L2
   strength of the grid, 5 stratified folds (by language and label) give out-of-fold
   probabilities; a message's variants stay in its fold, so no fold is validated on
   rewrites of its own training messages.
3. Scores the whole offline extractor on those validation folds, at message level ("a
   memory is written" against "the message is memorable"): the rules first, the gate
   where they find nothing and the message is no question, task or hypothetical. For
   each language it keeps, among the thresholds whose precision reaches the target,
   the one farthest inside the bar (the largest ``min(precision - target precision,
   recall - target recall)``: room on both sides, since precision fell on held-out
   before), and the L2 strength whose two languages sum the largest such margin.
4. Refits on the whole train split (and its variants) with that L2 strength and writes
   the gate file (weights as float16).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.extraction import LANGUAGES, Example, corpus_vectors, load_corpus
from memvault.adapters.embedder.local import LocalEmbedder
from memvault.adapters.extractor.gate import BUCKETS, GATE_FILE, features, model_of
from memvault.adapters.extractor.rule_based import extract_facts, open_to_gate
from memvault.domain.facts import DEFAULT_MIN_CONFIDENCE

CLASSES = ("none", "fact", "preference", "constraint")
L2_GRID = (0.01, 0.03, 0.1)
HASHED_SCALE = 0.5
"""Chosen on validation (0.3, 0.5, 1.0 tried): smaller weighs the n-grams more."""
THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.30, 0.951, 0.01), 2))
FOLDS = 5
SEED = 20261127
VARIANT_WEIGHT = 0.5
"""Weight of a generated variant (:func:`variants`) against a written message."""

_ZH_PREFIXABLE = re.compile(r"^[在是有养每会做住开吃喝喜爱刚已正准打从一学带搬考升转跳辞读离]")
_EN_SUBJECT = re.compile(r"^(?:I'm|I am|I)\s+(?=[a-z])")

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Model:
    mean: Matrix
    scale: Matrix
    weights: Matrix
    bias: Matrix

    def probabilities(self, rows: Matrix) -> Matrix:
        logits = ((rows - self.mean) / self.scale) @ self.weights.T + self.bias
        return softmax(logits)


@dataclass(frozen=True, slots=True)
class Choice:
    l2: float
    thresholds: dict[str, float]
    precision: dict[str, float]
    recall: dict[str, float]
    margin: float


def softmax(logits: Matrix) -> Matrix:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    out: Matrix = shifted / shifted.sum(axis=1, keepdims=True)
    return out


def variants(text: str, lang: str) -> list[str]:
    """Label-keeping rewrites of a training message, as people also type it: without its
    leading subject ("我是东北人" → "东北人", "I work nights" → "work nights"), with one
    ("在大学教书" → "我在大学教书"), or lower-cased at the start."""
    out = []
    if lang == "zh":
        if text.startswith("我是") and len(text) > 4 and not text.startswith("我是不是"):
            out.append(text[2:])
        elif text.startswith("我") and not text.startswith("我们") and len(text) > 3:
            out.append(text[1:])
        elif _ZH_PREFIXABLE.match(text):
            out.append("我" + text)
        return out
    subject = _EN_SUBJECT.match(text)
    if subject and len(text) - subject.end() > 8:
        out.append(text[subject.end() :])
    if text[:1].isupper() and not text.startswith(("I ", "I'")):
        out.append(text[:1].lower() + text[1:])
    return out


def balanced(corpus: Sequence[Example]) -> Matrix:
    """A weight per message giving each language's memorable and other messages the same
    total weight."""
    weight = np.ones(len(corpus))
    for lang in LANGUAGES:
        for memorable in (False, True):
            group = np.array([ex.lang == lang and bool(ex.expected) == memorable for ex in corpus])
            weight[group] = len(corpus) / (2 * len(LANGUAGES) * group.sum())
    return weight


def fit(
    rows: Matrix, labels: npt.NDArray[np.int64], weight: Matrix, *, l2: float, steps: int = 800
) -> Model:
    """Weighted multinomial logistic regression, gradient descent with momentum."""
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-6
    mean[-BUCKETS:], scale[-BUCKETS:] = 0.0, HASHED_SCALE
    x = (rows - mean) / scale
    target = np.eye(len(CLASSES))[labels]
    share = (weight / weight.sum())[:, None]
    weights = np.zeros((len(CLASSES), x.shape[1]))
    bias = np.zeros(len(CLASSES))
    velocity_w, velocity_b = np.zeros_like(weights), np.zeros_like(bias)
    for _ in range(steps):
        error = (softmax(x @ weights.T + bias) - target) * share
        velocity_w = 0.9 * velocity_w - 0.05 * (error.T @ x + l2 * weights)
        velocity_b = 0.9 * velocity_b - 0.05 * error.sum(axis=0)
        weights, bias = weights + velocity_w, bias + velocity_b
    return Model(mean, scale, weights, bias)


def folds(corpus: Sequence[Example]) -> npt.NDArray[np.int64]:
    """A fold number per message, stratified by language and label, seeded."""
    rng = np.random.default_rng(SEED)
    assigned = np.zeros(len(corpus), dtype=np.int64)
    for lang in LANGUAGES:
        for memorable in (False, True):
            group = [
                i
                for i, ex in enumerate(corpus)
                if ex.lang == lang and bool(ex.expected) == memorable
            ]
            order = rng.permutation(len(group))
            for rank, position in enumerate(order):
                assigned[group[position]] = rank % FOLDS
    return assigned


@dataclass(frozen=True, slots=True)
class Data:
    """The written messages' feature rows, labels and weights, and their variants'
    (``source``: the written message each variant comes from)."""

    rows: Matrix
    labels: npt.NDArray[np.int64]
    weight: Matrix
    variant_rows: Matrix
    source: npt.NDArray[np.int64]

    def fit(self, keep: npt.NDArray[np.bool_], l2: float) -> Model:
        """A model fitted on the kept messages and the variants of the kept messages."""
        kept = keep[self.source]
        return fit(
            np.vstack([self.rows[keep], self.variant_rows[kept]]),
            np.concatenate([self.labels[keep], self.labels[self.source][kept]]),
            np.concatenate([self.weight[keep], VARIANT_WEIGHT * self.weight[self.source][kept]]),
            l2=l2,
        )


def out_of_fold(data: Data, fold: npt.NDArray[np.int64], l2: float) -> Matrix:
    """``1 - p(none)`` for each message, from a model that never saw its fold (nor the
    variants of its fold's messages)."""
    scores = np.zeros(len(data.rows))
    for k in range(FOLDS):
        model = data.fit(fold != k, l2)
        scores[fold == k] = 1.0 - model.probabilities(data.rows[fold == k])[:, 0]
    return scores


def rules_write(example: Example) -> bool:
    return any(f.confidence >= DEFAULT_MIN_CONFIDENCE for f in extract_facts(example.text))


def message_scores(
    corpus: Sequence[Example], written: npt.NDArray[np.bool_], lang: str
) -> tuple[float, float]:
    """Precision and recall in ``lang`` of "a memory is written" at message level."""
    mask = np.array([ex.lang == lang for ex in corpus])
    wanted = np.array([bool(ex.expected) for ex in corpus])[mask]
    got = written[mask]
    hits = int((got & wanted).sum())
    precision = hits / got.sum() if got.sum() else 0.0
    recall = hits / wanted.sum() if wanted.sum() else 0.0
    return precision, recall


@dataclass(frozen=True, slots=True)
class Target:
    precision: float
    recall: float

    def margin(self, precision: float, recall: float) -> float:
        """How far inside the bar a point is (negative: outside)."""
        return min(precision - self.precision, recall - self.recall)


def best_point(
    corpus: Sequence[Example],
    written: Callable[[float], npt.NDArray[np.bool_]],
    lang: str,
    target: Target,
) -> tuple[float, float, float, float]:
    """``(margin, threshold, precision, recall)`` of the threshold farthest inside the bar
    among those reaching the target precision (any, when none does)."""
    points = []
    for threshold in THRESHOLDS:
        precision, recall = message_scores(corpus, written(threshold), lang)
        margin = target.margin(precision, recall)
        points.append((precision >= target.precision, margin, threshold, precision, recall))
    return max(points)[1:]


def choose(corpus: Sequence[Example], data: Data, target: Target) -> Choice:
    rules = np.array([rules_write(ex) for ex in corpus])
    open_ = np.array([open_to_gate(ex.text) for ex in corpus])
    fold = folds(corpus)
    choices = []
    for l2 in L2_GRID:
        scores = out_of_fold(data, fold, l2)

        def written(threshold: float, scores: Matrix = scores) -> npt.NDArray[np.bool_]:
            chosen: npt.NDArray[np.bool_] = rules | (~rules & open_ & (scores >= threshold))
            return chosen

        points = {lang: best_point(corpus, written, lang, target) for lang in LANGUAGES}
        choices.append(
            Choice(
                l2,
                thresholds={lang: point[1] for lang, point in points.items()},
                precision={lang: point[2] for lang, point in points.items()},
                recall={lang: point[3] for lang, point in points.items()},
                margin=sum(point[0] for point in points.values()),
            )
        )
        print(f"validation: {choices[-1]}", flush=True)
    return max(choices, key=lambda choice: choice.margin)


def save(path: Path, model: Model, *, model_name: str, thresholds: dict[str, float]) -> None:
    np.savez_compressed(
        path,
        model=np.array(model_of(model_name)),
        classes=np.array(CLASSES),
        mean=model.mean.astype(np.float32),
        scale=model.scale.astype(np.float32),
        weights=model.weights.astype(np.float16),
        bias=model.bias.astype(np.float32),
        thresholds=np.array([thresholds[lang] for lang in LANGUAGES]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cache", type=Path, help="vector cache file (created if missing)")
    parser.add_argument("--target-precision", type=float, default=0.95)
    parser.add_argument("--target-recall", type=float, default=0.85)
    parser.add_argument("--out", type=Path, default=GATE_FILE)
    args = parser.parse_args(argv)
    corpus = load_corpus(split="train")
    pairs = [(i, text) for i, ex in enumerate(corpus) for text in variants(ex.text, ex.lang)]
    texts = [ex.text for ex in corpus] + [text for _, text in pairs]
    vectors = corpus_vectors(texts, cache=args.cache)

    def matrix(texts: Sequence[str]) -> Matrix:
        return np.array([features(text, vectors[text]) for text in texts], dtype=np.float64)

    data = Data(
        rows=matrix([ex.text for ex in corpus]),
        labels=np.array(
            [CLASSES.index(ex.expected[0]["memory_type"]) if ex.expected else 0 for ex in corpus]
        ),
        weight=balanced(corpus),
        variant_rows=matrix([text for _, text in pairs]),
        source=np.array([i for i, _ in pairs], dtype=np.int64),
    )
    choice = choose(corpus, data, Target(args.target_precision, args.target_recall))
    print(
        f"train: {len(corpus)} messages and {len(pairs)} variants; "
        f"chosen on {FOLDS} validation folds: {choice}"
    )
    model = data.fit(np.ones(len(corpus), dtype=bool), choice.l2)
    save(args.out, model, model_name=LocalEmbedder("e5").name, thresholds=choice.thresholds)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
