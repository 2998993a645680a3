"""How serious a complaint is: low, medium, high or critical, with a short reason.

The rules, in this order:
1. critical: a legal or safety cue (`LEGAL_CUES`: lawyer, sue, chargeback, regulator...;
   `SAFETY_CUES`: injured, unsafe, caught fire, allergic reaction...). Only these make a
   complaint critical, so "critical" always means a legal or safety risk.
2. otherwise from the sentiment score (-1..1): high at or below `strongly_negative` (-0.75),
   medium at or below `negative` (-0.4), else low;
3. then one level up, capped at high, for each of: a threat to leave or cancel
   (`LEAVING_CUES`), repeated contact or an ongoing problem (`REPEAT_CUES`: "third time",
   "still no", "for weeks"), and shouting (mostly capitals, or "!!!").

A conversation's complaint is its most severe one, the latest among equals (`worst_complaint`).
"""

from __future__ import annotations

from collections.abc import Sequence

from intents.complaints.cues import LEAVING_CUES, LEGAL_CUES, REPEAT_CUES, SAFETY_CUES, shouting

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")  # in increasing order


def complaint_severity(
    text: str, sentiment_score: float, *, strongly_negative: float = -0.75, negative: float = -0.4
) -> tuple[str, str]:
    """(severity, reason) of a complaint by the rules of this module's docstring. The thresholds suit
    VADER's compound score, the scorer without a trained model; a trained model's P(pos) - P(neg)
    runs more extreme, so with one more complaints come out high."""
    if LEGAL_CUES.search(text):
        return "critical", "mentions legal action"
    if SAFETY_CUES.search(text):
        return "critical", "mentions a safety risk"
    if sentiment_score <= strongly_negative:
        level, reasons = 2, [f"strongly negative ({sentiment_score:.2f})"]
    elif sentiment_score <= negative:
        level, reasons = 1, [f"negative ({sentiment_score:.2f})"]
    elif sentiment_score < 0:
        level, reasons = 0, [f"mildly negative ({sentiment_score:.2f})"]
    else:
        level, reasons = 0, [f"complaint cue, tone not negative ({sentiment_score:.2f})"]
    for found, reason in (
        (LEAVING_CUES.search(text), "threatens to leave"),
        (REPEAT_CUES.search(text), "repeated or ongoing"),
        (shouting(text), "shouting"),
    ):
        if found:
            level = min(level + 1, 2)
            reasons.append(reason)
    return SEVERITIES[level], "; ".join(reasons)


def severity_rank(severity: str) -> int:
    """0 for low .. 3 for critical; -1 for no severity ("")."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def worst_complaint(complaints: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """Of (category, severity) pairs, oldest first: the most severe, the latest among equals;
    None when none has a severity. A conversation keeps the worst it has seen rather
    than the latest, so a calmer follow-up does not hide that the customer threatened to sue."""
    worst: tuple[str, str] | None = None
    for category, severity in complaints:
        if severity_rank(severity) >= 0 and (worst is None or severity_rank(severity) >= severity_rank(worst[1])):
            worst = (category, severity)
    return worst
