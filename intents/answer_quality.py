"""The answer-quality evaluation's questions and scoring (no Django: the runner lives in
`chatbot.answers`).

A question file is JSON:

    {"in_scope": [{"text", "expect", "must", "forbid"}],
     "out_of_scope": [text, ...],
     "followups": [{"turns": [text, ...], "expect", "must", "forbid"}]}

- `expect`: the FAQ question of the entry that answers it; `|` separates acceptable ones;
- `must`: a regex (case-insensitive, searched) for the key fact a correct reply states;
- `forbid`: regexes for claims that contradict the FAQ.

A reply is **correct** when it cites an expected entry, states the key fact and makes no forbidden
claim; a **contradiction** is a reply that makes a forbidden claim (whatever it cites). An
off-topic question is **refused** when the bot does not answer it from the FAQ (a handoff or its
offer). Follow-ups are scored on the reply to their last turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


class QuestionFileError(ValueError):
    pass


@dataclass(frozen=True)
class Expectation:
    expect: tuple[str, ...]
    must: re.Pattern[str]
    forbid: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Item:
    """One scripted conversation: its customer turns, and what the reply to the last must be
    (None: off-topic, the bot must not answer)."""

    kind: str  # in_scope, out_of_scope, followup
    turns: tuple[str, ...]
    expectation: Expectation | None


@dataclass(frozen=True)
class Reply:
    """What the bot did with the last turn, as stored."""

    text: str
    decision: str  # answer, clarify, handoff
    cited: tuple[str, ...]  # FAQ questions of the sources (answer) or options (clarify)
    faq_answer: str  # the cited entry's answer ("" when none): a reply equal to it was not generated
    first_token_ms: float | None
    generated: bool


@dataclass
class Outcome:
    item: Item
    reply: Reply
    correct: bool = False
    contradiction: bool = False
    refused: bool = False
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.item.kind,
            "turns": list(self.item.turns),
            "expect": list(self.item.expectation.expect) if self.item.expectation else None,
            "reply": self.reply.text,
            "decision": self.reply.decision,
            "cited": list(self.reply.cited),
            "generated": self.reply.generated,
            "first_token_ms": self.reply.first_token_ms,
            "correct": self.correct,
            "contradiction": self.contradiction,
            "refused": self.refused,
            "problems": self.problems,
        }


def _compile(pattern: object, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise QuestionFileError(f"{where}: expected a non-empty regex string")
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise QuestionFileError(f"{where}: bad regex {pattern!r}: {exc}") from exc


def _expectation(raw: dict[str, Any], where: str) -> Expectation:
    expect = raw.get("expect")
    if not isinstance(expect, str) or not expect.strip():
        raise QuestionFileError(f"{where}: 'expect' must name the FAQ question(s) that answer it")
    forbid = raw.get("forbid", [])
    if not isinstance(forbid, list):
        raise QuestionFileError(f"{where}: 'forbid' must be a list of regexes")
    return Expectation(
        expect=tuple(q.strip() for q in expect.split("|") if q.strip()),
        must=_compile(raw.get("must"), f"{where}.must"),
        forbid=tuple(_compile(p, f"{where}.forbid[{i}]") for i, p in enumerate(forbid)),
    )


def question_file_read(path: Path) -> list[Item]:
    """The items of a question file, or a `QuestionFileError` saying what is wrong and where."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QuestionFileError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise QuestionFileError(f"{path}: expected an object with in_scope, out_of_scope and followups")
    items: list[Item] = []
    for number, raw in enumerate(data.get("in_scope", [])):
        where = f"in_scope[{number}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            raise QuestionFileError(f"{where}: expected {{'text', 'expect', 'must', 'forbid'}}")
        items.append(Item("in_scope", (raw["text"],), _expectation(raw, where)))
    for number, text in enumerate(data.get("out_of_scope", [])):
        if not isinstance(text, str) or not text.strip():
            raise QuestionFileError(f"out_of_scope[{number}]: expected a question")
        items.append(Item("out_of_scope", (text,), None))
    for number, raw in enumerate(data.get("followups", [])):
        where = f"followups[{number}]"
        turns = raw.get("turns") if isinstance(raw, dict) else None
        if not isinstance(turns, list) or len(turns) < 2 or not all(isinstance(t, str) and t for t in turns):
            raise QuestionFileError(f"{where}: 'turns' must list at least two customer messages")
        items.append(Item("followup", tuple(turns), _expectation(raw, where)))
    if not items:
        raise QuestionFileError(f"{path}: no questions")
    return items


def outcome_score(item: Item, reply: Reply) -> Outcome:
    outcome = Outcome(item, reply)
    answered = reply.decision == "answer" and bool(reply.cited)
    if item.expectation is None:
        outcome.refused = not answered
        if answered:
            outcome.problems.append("answered an off-topic question")
        return outcome
    expectation = item.expectation
    forbidden = [p.pattern for p in expectation.forbid if p.search(reply.text)]
    outcome.contradiction = bool(forbidden)
    if forbidden:
        outcome.problems.append(f"forbidden claim: {forbidden}")
    right_entry = answered and reply.cited[0] in expectation.expect
    has_fact = bool(expectation.must.search(reply.text))
    if not answered:
        outcome.problems.append(f"not answered ({reply.decision})")
    elif not right_entry:
        outcome.problems.append(f"cited {reply.cited[0]!r}")
    elif not has_fact:
        outcome.problems.append("key fact missing")
    outcome.correct = right_entry and has_fact and not forbidden
    return outcome


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The evaluation's figures over scored outcomes."""
    answerable = [o for o in outcomes if o.item.expectation is not None]
    in_scope = [o for o in outcomes if o.item.kind == "in_scope"]
    followups = [o for o in outcomes if o.item.kind == "followup"]
    off_topic = [o for o in outcomes if o.item.kind == "out_of_scope"]
    answered = [o for o in outcomes if o.reply.decision == "answer" and o.reply.cited]
    first_tokens = [o.reply.first_token_ms for o in outcomes if o.reply.first_token_ms is not None]

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "questions": len(outcomes),
        "in_scope": len(in_scope),
        "followups": len(followups),
        "out_of_scope": len(off_topic),
        "correct": share(sum(o.correct for o in answerable), len(answerable)),
        "correct_in_scope": share(sum(o.correct for o in in_scope), len(in_scope)),
        "correct_followups": share(sum(o.correct for o in followups), len(followups)),
        "contradictions": sum(o.contradiction for o in answerable),
        "contradiction_texts": [
            {"question": o.item.turns[-1], "reply": o.reply.text} for o in answerable if o.contradiction
        ],
        "clarify_rate": share(sum(o.reply.decision == "clarify" for o in in_scope), len(in_scope)),
        "handoff_rate": share(sum(o.reply.decision == "handoff" for o in in_scope), len(in_scope)),
        "oos_refused": share(sum(o.refused for o in off_topic), len(off_topic)),
        "generated_share": share(sum(o.reply.generated for o in answered), len(answered)),
        "ttft_ms_p50": _percentile(first_tokens, 50),
        "ttft_ms_p99": _percentile(first_tokens, 99),
    }
