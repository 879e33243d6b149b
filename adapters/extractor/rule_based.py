"""The offline extractor: English and Chinese rules, no model, no network.

It keeps the service useful without an LLM (docs/adr/0004) and follows the
gatekeeper's intent: most messages give nothing, and it is better to
miss a fact than to remember a wrong one.
"""

from __future__ import annotations

import re

import structlog

from memvault.adapters.extractor.cues import (
    is_hypothetical,
    is_one_off,
    is_question,
    is_standing,
    is_task,
    opens_hypothetical,
)
from memvault.adapters.extractor.explicit import explicit_inner, is_bare_request
from memvault.adapters.extractor.gate import Gate, gate_fact
from memvault.adapters.extractor.rules import Rule, Statement, polish, title_subject, titled
from memvault.adapters.extractor.rules_en import INSTRUCTION_RULES as EN_INSTRUCTIONS
from memvault.adapters.extractor.rules_en import USER_RULES as EN_USER_RULES
from memvault.adapters.extractor.rules_zh import INSTRUCTION_RULES as ZH_INSTRUCTIONS
from memvault.adapters.extractor.rules_zh import USER_RULES as ZH_USER_RULES
from memvault.adapters.extractor.segmentation import split_clauses, split_sentences
from memvault.adapters.extractor.sensitivity import sensitivity_of
from memvault.application.ports.embedder import Embedder, EmbedderError
from memvault.application.ports.extractor import ExtractionRequest, Extractor
from memvault.domain.facts import MAX_FACTS_PER_MESSAGE, CandidateFact
from memvault.domain.memory import DEFAULT_IMPORTANCE, MemoryType
from memvault.domain.polarity import LIKE, expand_contractions, read_stance

EXPLICIT_CONFIDENCE = 0.9
PREFERENCE_CONFIDENCE = 0.75
HEDGED_CONFIDENCE = 0.6
EXPLICIT_IMPORTANCE = 0.9

_USER_RULES: tuple[Rule, ...] = EN_USER_RULES + ZH_USER_RULES
_INSTRUCTIONS: tuple[Rule, ...] = EN_INSTRUCTIONS + ZH_INSTRUCTIONS

_FIRST_PERSON = re.compile(
    r"^(?:i\b|i['’]|my\s+(?:all-time\s+|absolute\s+)?fav|我)"
    r"|\b(?:is|are)\s+my\s+(?:all-time\s+)?fav|是我的最爱",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:maybe|perhaps|probably|i\s+think|i\s+guess|kind\s+of|kinda|sort\s+of)\b"
    r"|可能|好像|也许|应该是",
    re.IGNORECASE,
)
# "I think I'm allergic to cats", "我好像对芒果过敏": the statement is read without the hedge.
_HEDGE_OPENING = re.compile(
    r"^(?:i\s+think|i\s+guess|i\s+believe|i\s+suppose|i'm\s+pretty\s+sure|probably|"
    r"maybe|perhaps|apparently|我觉得|我猜|好像|可能|大概|也许)[\s,，]*(?=\S)"
    r"|(?<=^我)(?:好像|可能|大概|也许|应该)",
    re.IGNORECASE,
)
# "我喜欢猫，也喜欢狗": the second clause borrows the first one's "我".
_ZH_SUBJECTLESS = re.compile(r"^(?:也|还|更|又)")
_CJK_START = re.compile(r"^[\u3400-\u9fff]")
_EN_WORD = re.compile(r"[A-Za-z]+")

_log = structlog.get_logger(__name__)


class RuleBasedExtractor(Extractor):
    """Reads likes, instructions and personal facts from one message with fixed rules.

    Rules:
    - The message is cut into clauses (:mod:`~adapters.extractor.segmentation`); each
      clause gives at most one candidate, and a message at most 3.
    - Questions, hypotheticals and task requests give nothing
      (:mod:`~adapters.extractor.cues`); rules read only what the user says of
      themselves, so chit-chat and statements about other people match none.
    - An explicit request ("remember that …", "记住…", "以后提醒我…") gives the inner
      statement with ``is_explicit=True``, confidence 0.9, importance at least 0.9; a
      statement no rule knows is kept as a ``fact`` ("Note: …" / "备忘：…").
    - Facts about the user (name, home, work, family, pets, health, money, birthday,
      language) are ``fact``; diet limits and standing instructions are ``constraint``;
      likes and dislikes (:mod:`domain.polarity`) are ``preference`` ("Likes: sushi").
    - An instruction next to a task ("write an email, don't make it long") belongs to
      the task unless it says it lasts ("always", "from now on", "以后", "每次").
    - Content is the user's own clause, cleaned ("I love sushi", "我对花生过敏");
      importance is the type's default; a hedged statement ("I think …", "maybe", "好像")
      gets confidence 0.6; sensitivity follows :mod:`~adapters.extractor.sensitivity`.
    - Pure CPU and total: any text, however long or odd, gives a list, never an error.
    - With a ``gate`` and the ``embedder`` it was trained for, a message the rules find
      nothing in may still become one fact (:mod:`~adapters.extractor.gate`); with any
      other embedder the gate is skipped (logged once), and a failing embedder leaves
      the rules' answer (logged).
    """

    def __init__(self, *, embedder: Embedder | None = None, gate: Gate | None = None) -> None:
        self._embedder = embedder
        self._gate = gate
        self._gate_fits: bool | None = None

    async def extract(self, request: ExtractionRequest) -> list[CandidateFact]:
        facts = extract_facts(request.text)
        if facts or not self._gate_usable() or not open_to_gate(request.text):
            return facts
        assert self._gate is not None  # by _gate_usable
        assert self._embedder is not None
        try:
            vector = (await self._embedder.embed_documents([request.text]))[0]
        except EmbedderError as error:
            _log.warning("extraction_gate_skipped", reason=str(error))
            return facts
        return with_gate(request.text, facts, self._gate.verdict(request.text, vector))

    def _gate_usable(self) -> bool:
        if self._gate is None or self._embedder is None:
            return False
        if self._gate_fits is None:
            name, dimension = self._embedder.name, self._embedder.dimension
            self._gate_fits = self._gate.fits(name, dimension)
            if not self._gate_fits:
                _log.info("extraction_gate_off", embedder=name, trained_for=self._gate.model)
        return self._gate_fits


def open_to_gate(text: str) -> bool:
    """Some clause of the message could state something: no question, task or hypothetical."""
    return any(_could_state(clause) for clause in _clauses(text))


def _could_state(clause: str) -> bool:
    expanded = expand_contractions(clause)
    return not (is_question(clause) or is_task(clause) or is_hypothetical(expanded))


def with_gate(
    text: str, facts: list[CandidateFact], verdict: MemoryType | None
) -> list[CandidateFact]:
    """The rules' facts, else the gate's one fact when it calls the message memorable."""
    if facts or verdict is None:
        return facts
    fact = gate_fact(text, verdict)
    return [fact] if fact is not None else []


def extract_facts(text: str) -> list[CandidateFact]:
    """The candidates one message states, by the rules of :class:`RuleBasedExtractor`."""
    clauses = _clauses(text)
    in_task = any(is_task(clause) for clause in clauses)
    bare = [is_bare_request(clause) for clause in clauses]
    found: dict[tuple[str, str], CandidateFact] = {}
    for index, clause in enumerate(clauses):
        if bare[index]:
            continue
        candidate = _read_clause(clause, in_task=in_task, explicit=_marked(bare, index))
        if candidate is not None:
            found.setdefault((candidate.memory_type, candidate.content.lower()), candidate)
    return list(found.values())[:MAX_FACTS_PER_MESSAGE]


def _clauses(text: str) -> list[str]:
    clauses: list[str] = []
    for sentence in split_sentences(text):
        if opens_hypothetical(sentence):
            continue
        for clause in split_clauses(sentence):
            previous = clauses[-1] if clauses else ""
            if _ZH_SUBJECTLESS.match(clause) and previous.startswith("我"):
                clause = "我" + clause
            clauses.append(clause)
    return clauses


def _marked(bare: list[bool], index: int) -> bool:
    """A bare "remember" marks the clause after it, or the one before when it ends."""
    after = index > 0 and bare[index - 1]
    before = index + 2 == len(bare) and bare[index + 1]
    return after or before


def _read_clause(clause: str, *, in_task: bool, explicit: bool) -> CandidateFact | None:
    inner = explicit_inner(clause)
    if inner is not None:
        return _remember(inner, in_task=False, explicit=True)
    return _remember(clause, in_task=in_task, explicit=explicit)


def _remember(clause: str, *, in_task: bool, explicit: bool) -> CandidateFact | None:
    if is_question(clause) or is_hypothetical(expand_contractions(clause)):
        return None
    hedge = _HEDGE_OPENING.search(clause)
    said = clause[: hedge.start()] + clause[hedge.end() :] if hedge else clause
    statement = _statement(said, expand_contractions(said), in_task=in_task)
    if statement is None and explicit:
        statement = _note(clause)
    if statement is None:
        return None
    return _candidate(statement, explicit=explicit, hedged=bool(hedge))


def _statement(clause: str, expanded: str, *, in_task: bool) -> Statement | None:
    for rule in _USER_RULES:
        statement = rule.read(clause, expanded=expanded)
        if statement is not None:
            return statement
    for rule in _INSTRUCTIONS:
        statement = rule.read(clause, expanded=expanded)
        if statement is not None and _lasts(statement, in_task=in_task):
            return statement
    return _preference(clause)


def _lasts(instruction: Statement, *, in_task: bool) -> bool:
    """Standing, or neither beside a task nor about "it"/"today" (a detail of this turn)."""
    if is_standing(instruction.content):
        return True
    return not (in_task or is_one_off(instruction.subject))


def _preference(clause: str) -> Statement | None:
    stance = read_stance(clause) if _FIRST_PERSON.search(clause) else None
    subject = title_subject(stance.subject) if stance else ""
    if stance is None or not subject:
        return None
    chinese = bool(_CJK_START.match(clause))
    liked = stance.polarity == LIKE
    label = ("喜欢" if liked else "不喜欢") if chinese else ("Likes" if liked else "Dislikes")
    return Statement(
        memory_type=MemoryType.PREFERENCE,
        title=titled(label, subject),
        content=clause,
        confidence=PREFERENCE_CONFIDENCE,
    )


def _note(clause: str) -> Statement | None:
    """An explicit request no rule understands is still kept, as a plain fact."""
    chinese = bool(_CJK_START.match(clause))
    long_enough = len(clause) >= 4 if chinese else len(_EN_WORD.findall(clause)) >= 3
    subject = title_subject(clause)
    if not long_enough or not subject:
        return None
    return Statement(
        memory_type=MemoryType.FACT,
        title=titled("备忘" if chinese else "Note", subject),
        content=clause,
        confidence=EXPLICIT_CONFIDENCE,
    )


def _candidate(statement: Statement, *, explicit: bool, hedged: bool) -> CandidateFact:
    content = polish(statement.content)
    confidence = EXPLICIT_CONFIDENCE if explicit else statement.confidence
    if hedged or _HEDGE.search(content):
        confidence = min(confidence, HEDGED_CONFIDENCE)
    importance = DEFAULT_IMPORTANCE[statement.memory_type]
    return CandidateFact(
        memory_type=statement.memory_type.value,
        title=statement.title,
        content=content,
        confidence=confidence,
        importance=max(importance, EXPLICIT_IMPORTANCE) if explicit else importance,
        sensitivity_level=sensitivity_of(content),
        is_explicit=explicit,
    )
