from __future__ import annotations

import pytest

from intents.sentiment.conversations import conversation_sentiment, escalation_reason


def test_a_conversation_that_turns_sour_ends_negative() -> None:
    current = conversation_sentiment([(0.6, "positive"), (0.0, "neutral"), (-0.7, "negative")], decay=0.6)
    assert current is not None
    assert current.label == "negative"
    assert current.score < 0


def test_a_long_run_of_anger_outweighs_one_calm_last_message() -> None:
    current = conversation_sentiment([(-0.8, "negative")] * 3 + [(0.0, "neutral")], decay=0.6)
    assert current is not None
    assert current.label == "negative"


def test_a_conversation_of_one_message_has_that_messages_sentiment() -> None:
    current = conversation_sentiment([(0.3, "neutral")], decay=0.6)
    assert current is not None
    assert (current.score, current.label) == (0.3, "neutral")
    assert conversation_sentiment([], decay=0.6) is None


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([], None),
        ([(0.3, "positive")], None),
        ([(-0.3, "negative")], None),
        ([(-0.7, "negative")], "strongly negative message (-0.70)"),
        ([(-0.2, "negative"), (-0.3, "negative")], "2 negative messages in a row"),
        ([(0.5, "positive"), (-0.2, "negative"), (-0.3, "negative")], "2 negative messages in a row, getting worse"),
        ([(-0.2, "negative"), (0.1, "neutral"), (-0.3, "negative")], None),
    ],
)
def test_escalation_reason_names_a_strongly_negative_or_worsening_conversation(
    messages: list[tuple[float, str]], reason: str | None
) -> None:
    assert escalation_reason(messages) == reason
