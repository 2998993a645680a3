"""The learning loop's data and decisions, without Django: turning logged exchanges into training
pairs, and deciding whether a retrained model may replace the one in service.

Training pairs come from three sources, best first:
- `operator_reply`: what a person answered during a handoff, to the customer's messages just
  before it. The best signal: how a human answered what the bot could not.
- `liked_answer`: a bot answer the customer gave a thumbs up.
- `faq`: every phrasing of an active FAQ entry with its answer.

`prepare_pairs` cleans them (whitespace, control characters, length limits), redacts personal
data from what customers and operators typed (e-mail addresses, phone and card numbers:
`intents.redaction`; FAQ entries and passages are the company's own text), drops questions of the
frozen golden sets (a model must never be evaluated on what it was trained on) and removes
duplicates (same question and answer after normalisation; the better source is kept).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from intents.gate import asks_for_human, asks_when_people_are_available
from intents.redaction import redact

SOURCES: tuple[str, ...] = ("operator_reply", "liked_answer", "faq")  # best first: wins a duplicate
LOGGED_SOURCES = frozenset({"operator_reply", "liked_answer"})  # typed by customers and operators
MIN_CHARS = 3
MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 2000

_SPACE = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Passage:
    question: str
    answer: str


@dataclass(frozen=True)
class TrainingPair:
    """A customer question and a good answer to it, with where it came from."""

    question: str
    answer: str
    source: str  # one of SOURCES
    site: str = ""
    intent: str = ""
    passages: tuple[Passage, ...] = ()
    origin: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"conversation": 12, "messages": [3, 4]}

    def as_json(self) -> dict[str, Any]:
        """One JSONL line: readable by `intents.generation.data` (`question`, `answer`, `passages`)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "source": self.source,
            "site": self.site,
            "intent": self.intent,
            "passages": [asdict(p) for p in self.passages],
            "origin": dict(self.origin),
        }


def clean_text(text: str) -> str:
    """Collapse whitespace and drop control and zero-width characters; keeps the wording."""
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return _SPACE.sub(" ", kept).strip()


def normalised(text: str) -> str:
    """The comparison key of a text: case, punctuation and spacing ignored."""
    return _NOT_WORD.sub(" ", text.casefold()).strip()


def golden_questions(golden: Sequence[Mapping[str, Any]]) -> set[str]:
    """The comparison keys of a golden set's questions (texts): training data must not hold them."""
    return {normalised(str(row.get("question") or row.get("text") or "")) for row in golden}


@dataclass
class PreparedPairs:
    pairs: list[TrainingPair]
    stats: dict[str, dict[str, int]]  # per source: found, kept, too_short, too_long, golden, duplicate, redacted

    def totals(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for counts in self.stats.values():
            total.update(counts)
        return dict(total)


def prepare_pairs(pairs: Iterable[TrainingPair], *, exclude_questions: Collection[str] = ()) -> PreparedPairs:
    """Cleaned, redacted, de-duplicated pairs, in source order (operator replies first), with
    counts of what was dropped and why. `exclude_questions` are compared after `normalised`."""
    excluded = {normalised(q) for q in exclude_questions}
    stats: dict[str, Counter[str]] = {source: Counter() for source in SOURCES}
    ordered = sorted(pairs, key=lambda p: SOURCES.index(p.source) if p.source in SOURCES else len(SOURCES))
    seen: set[tuple[str, str]] = set()
    kept: list[TrainingPair] = []
    for pair in ordered:
        counts = stats.setdefault(pair.source, Counter())
        counts["found"] += 1
        question, answer = clean_text(pair.question), clean_text(pair.answer)
        if len(question) < MIN_CHARS or len(answer) < MIN_CHARS:
            counts["too_short"] += 1
            continue
        if len(question) > MAX_QUESTION_CHARS or len(answer) > MAX_ANSWER_CHARS:
            counts["too_long"] += 1
            continue
        if normalised(question) in excluded:
            counts["golden"] += 1
            continue
        # The FAQ is the company's own text (its phone number is not personal data); what
        # customers and operators typed is redacted.
        if pair.source in LOGGED_SOURCES:
            redacted_question, redacted_answer = redact(question), redact(answer)
        else:
            redacted_question, redacted_answer = question, answer
        if (redacted_question, redacted_answer) != (question, answer):
            counts["redacted"] += 1
        key = (normalised(redacted_question), normalised(redacted_answer))
        if key in seen:
            counts["duplicate"] += 1
            continue
        seen.add(key)
        passages = tuple(Passage(clean_text(p.question), clean_text(p.answer)) for p in pair.passages)
        kept.append(
            TrainingPair(redacted_question, redacted_answer, pair.source, pair.site, pair.intent, passages, pair.origin)
        )
        counts["kept"] += 1
    return PreparedPairs(kept, {source: dict(counts) for source, counts in stats.items()})


def write_jsonl(pairs: Iterable[TrainingPair], path: Path | str) -> int:
    """Write one JSON object per line (UTF-8); returns how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair.as_json(), ensure_ascii=False) + "\n")
            count += 1
    return count


@dataclass(frozen=True)
class LoggedMessage:
    """One stored message of a conversation, as much of it as the pairing needs."""

    id: int
    sender: str  # customer, bot, operator, system
    text: str
    decision: str = ""  # a bot message's: answer, clarify, handoff


def operator_reply_pairs(
    messages: Sequence[LoggedMessage], *, site: str = "", conversation: int = 0
) -> list[TrainingPair]:
    """The (question, answer) pairs of one conversation's handoff: each run of operator messages
    answers the customer messages since the previous operator message or bot answer.

    A bot's handoff or clarifying reply does not end the question (the customer is still waiting
    for an answer to it); a customer's request for a person is not part of the question; an
    operator's follow-up with no new customer message in between joins the same answer."""
    pairs: list[TrainingPair] = []
    question: list[LoggedMessage] = []
    answer: list[LoggedMessage] = []

    def flush() -> None:
        if question and answer:
            pairs.append(
                TrainingPair(
                    " ".join(m.text.strip() for m in question),
                    " ".join(m.text.strip() for m in answer),
                    "operator_reply",
                    site,
                    origin={"conversation": conversation, "messages": [m.id for m in (*question, *answer)]},
                )
            )

    for message in messages:
        if message.sender == "customer":
            if answer:
                flush()
                question, answer = [], []
            if not asks_for_human(message.text) or asks_when_people_are_available(message.text):
                question.append(message)
        elif message.sender == "operator":
            if question:
                answer.append(message)
        elif message.sender == "bot" and message.decision == "answer" and not answer:
            question = []  # the bot answered these; what the operator says next is not about them
    flush()
    return pairs


# --- Promotion -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromotionRule:
    """When a candidate may replace the active model: its `metric` (higher is better) is at least
    the active one's minus `tolerance`, and each of `guards` (lower is better, e.g. the rate of
    invented facts) is at most the active one's plus its allowance."""

    metric: str
    tolerance: float = 0.0
    guards: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str


def promotion_decision(
    candidate: Mapping[str, Any], active: Mapping[str, Any], rule: PromotionRule
) -> PromotionDecision:
    """Compare the candidate's golden-set metrics with those of what serves now (the active
    model, or what answers without one), measured on the same golden set in the same run."""
    value = _number(candidate, rule.metric)
    if value is None:
        return PromotionDecision(False, f"the candidate has no {rule.metric}")
    reference, against = active, "the active model"
    reference_value = _number(reference, rule.metric)
    if reference_value is None:
        return PromotionDecision(True, f"{rule.metric} {value:.4f}; {against} has no {rule.metric}")
    if value < reference_value - rule.tolerance - 1e-12:
        return PromotionDecision(False, f"worse: {rule.metric} {value:.4f} < {reference_value:.4f} of {against}")
    for guard, allowance in rule.guards.items():
        mine, theirs = _number(candidate, guard), _number(reference, guard)
        if mine is not None and theirs is not None and mine > theirs + allowance + 1e-12:
            return PromotionDecision(False, f"worse: {guard} {mine:.4f} > {theirs:.4f} of {against}")
    return PromotionDecision(True, f"not worse: {rule.metric} {value:.4f} vs {reference_value:.4f} of {against}")


def _number(metrics: Mapping[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
