"""Tuning a site's gate thresholds on labelled questions, instead of guessing them.

Every labelled question (the FAQ entry that answers it, or none for an off-topic one) is run
through the gate under each candidate policy. The policy with the highest utility wins; a wrong
answer costs more than a handoff, because a confident wrong answer is the worst thing a support
bot can do. Figures are also reported out of sample (k-fold), so they are not flattered by tuning
on the same questions.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from intents.gate import Candidate, GatePolicy, decide

UTILITY = {
    "answered_right": 1.0,
    "clarified_with_right": 0.5,
    "clarified_without_right": -1.0,
    "handed_off": 0.0,
    "answered_wrong": -2.0,
    "off_topic_handed_off": 1.0,
    "off_topic_clarified": -0.5,
    "off_topic_answered": -2.0,
}
THRESHOLDS = tuple(round(float(t), 2) for t in np.arange(0.10, 0.801, 0.01))
MARGINS = tuple(round(float(m), 3) for m in np.arange(0.0, 0.101, 0.01))


@dataclass(frozen=True)
class LabelledQuestion:
    text: str
    candidates: tuple[Candidate, ...]  # retrieval results, best first
    expected: int | None  # the FAQ entry that answers it; None for an off-topic question
    oos_probability: float | None = None  # the index's off-topic model, when it has one
    also: frozenset[int] = frozenset()  # other entries whose answer carries the fact asked for too


def outcome(question: LabelledQuestion, policy: GatePolicy) -> str:
    decision = decide(
        question=question.text, candidates=question.candidates, policy=policy, oos_probability=question.oos_probability
    )
    chosen = {c.id for c in decision.candidates}
    if question.expected is None:
        return {"answer": "off_topic_answered", "clarify": "off_topic_clarified"}.get(
            decision.action, "off_topic_handed_off"
        )
    if decision.action == "answer":
        return "answered_right" if chosen & _answers(question) else "answered_wrong"
    if decision.action == "clarify":
        return "clarified_with_right" if chosen & _answers(question) else "clarified_without_right"
    return "handed_off"


def _answers(question: LabelledQuestion) -> set[int]:
    return {question.expected, *question.also} if question.expected is not None else set()


def evaluate_policy(questions: Sequence[LabelledQuestion], policy: GatePolicy) -> dict[str, float]:
    counts = Counter(outcome(q, policy) for q in questions)
    in_scope = sum(q.expected is not None for q in questions) or 1
    off_topic = sum(q.expected is None for q in questions) or 1
    return {
        "utility": round(sum(UTILITY[k] * n for k, n in counts.items()) / max(1, len(questions)), 4),
        "answered_right": round(counts["answered_right"] / in_scope, 4),
        "answered_wrong": round(counts["answered_wrong"] / in_scope, 4),
        "clarified_with_right": round(counts["clarified_with_right"] / in_scope, 4),
        "in_scope_handed_off": round((counts["handed_off"] + counts["clarified_without_right"]) / in_scope, 4),
        "off_topic_handed_off": round(counts["off_topic_handed_off"] / off_topic, 4),
        "off_topic_answered": round(counts["off_topic_answered"] / off_topic, 4),
    }


def tune_policy(
    questions: Sequence[LabelledQuestion],
    base: GatePolicy | None = None,
    thresholds: Sequence[float] = THRESHOLDS,
    margins: Sequence[float] = MARGINS,
) -> GatePolicy:
    """The policy with the highest utility, asking the customer to choose only where that clearly pays.

    The clarify margin is chosen by the one-standard-error rule: the smallest margin whose best policy
    is within one standard error (of the best policy's mean utility per question) of the best, then
    its best threshold. Ties go to the lower threshold. Over a few hundred labelled questions one or
    two of them decide between margins, which is noise; a clarify costs every customer it asks a turn."""
    base = base or GatePolicy()
    if not questions:
        return base
    best: dict[float, tuple[float, GatePolicy]] = {}
    top_utilities: list[float] = []
    top = -np.inf
    for threshold in thresholds:
        for margin in margins:
            policy = replace(base, answer_threshold=threshold, clarify_margin=margin)
            utilities = [UTILITY[outcome(q, policy)] for q in questions]
            utility = float(np.mean(utilities))
            if margin not in best or utility > best[margin][0] + 1e-9:
                best[margin] = (utility, policy)
            if utility > top + 1e-9:
                top, top_utilities = utility, utilities
    standard_error = float(np.std(top_utilities, ddof=1) / np.sqrt(len(top_utilities))) if len(questions) > 1 else 0.0
    margin = min(m for m, (utility, _) in best.items() if utility >= top - standard_error - 1e-9)
    return best[margin][1]


def cross_validated(
    questions: Sequence[LabelledQuestion], base: GatePolicy | None = None, folds: int = 2, seed: int = 13
) -> dict[str, float]:
    """Figures of policies tuned on the other folds, measured on each held-out fold, averaged."""
    shuffled = list(questions)
    random.Random(seed).shuffle(shuffled)
    parts = [shuffled[i::folds] for i in range(folds)]
    results = []
    for i, held_out in enumerate(parts):
        tuned = tune_policy([q for j, part in enumerate(parts) if j != i for q in part], base)
        results.append(evaluate_policy(held_out, tuned))
    return {key: round(float(np.mean([r[key] for r in results])), 4) for key in results[0]}
