"""A conversation's sentiment from its customer messages', and when to flag it to the team."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ConversationSentiment:
    score: float  # -1..1
    label: str


def conversation_sentiment(messages: Sequence[tuple[float, str]], decay: float) -> ConversationSentiment | None:
    """A conversation's current sentiment from its customer messages' (score, label), oldest first.

    Both are exponentially weighted towards the latest message: it weighs 1, the one before
    `decay`, then `decay`**2 and so on. The score is the weighted mean of the scores; the label
    the one with the most weight (ties go to the latest message's). With decay 0.6 the latest
    message outweighs the one or two before it, and a longer run of earlier ones outweighs it: a
    conversation that turns sour ends negative, one negative remark after a long friendly chat
    does not sink it. The label is voted rather than read off the mean score because the scorers'
    scores differ in scale (VADER's compound, a model's P(pos) - P(neg)) while their labels agree
    in meaning. None without messages."""
    if not messages:
        return None
    if not 0.0 < decay <= 1.0:
        raise ValueError(f"decay must be within (0, 1], not {decay}")
    weights = [decay ** (len(messages) - 1 - i) for i in range(len(messages))]
    score = sum(w * s for w, (s, _) in zip(weights, messages, strict=True)) / sum(weights)
    votes: dict[str, float] = defaultdict(float)
    for weight, (_, label) in zip(weights, messages, strict=True):
        votes[label] += weight
    latest = messages[-1][1]
    label = max(votes, key=lambda candidate: (round(votes[candidate], 9), candidate == latest))
    return ConversationSentiment(score=round(score, 4), label=label)


def escalation_reason(
    messages: Sequence[tuple[float, str]], *, strongly_negative: float = -0.6, negative_run: int = 2
) -> str | None:
    """Why a conversation should be flagged to the team from its customer messages' (score, label),
    oldest first, or None: its latest message is strongly negative (score at most
    `strongly_negative`), or its last `negative_run` messages are all negative (said to be getting
    worse when an earlier message was not)."""
    if not messages:
        return None
    score, label = messages[-1]
    if label == "negative" and score <= strongly_negative:
        return f"strongly negative message ({score:.2f})"
    if (
        negative_run >= 1
        and len(messages) >= negative_run
        and all(tag == "negative" for _, tag in messages[-negative_run:])
    ):
        worse = any(tag != "negative" for _, tag in messages[:-negative_run])
        return f"{negative_run} negative messages in a row" + (", getting worse" if worse else "")
    return None
