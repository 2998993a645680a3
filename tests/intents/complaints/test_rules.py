"""Complaint detection and severity: the rules on their own."""

from __future__ import annotations

import pytest

from intents.complaints.cues import is_complaint, shouting
from intents.complaints.severity import complaint_severity, worst_complaint


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        ("This is useless.", "negative", True),
        ("My parcel never arrived.", "neutral", True),
        ("I was charged twice for the same order.", "neutral", True),
        ("This is the third time I am writing about this.", "neutral", True),
        ("Fix it or I will take you to court.", "neutral", True),
        ("How do I get a refund?", "neutral", False),
        ("Hi, do you ship to Spain?", "neutral", False),
        ("Thanks, that was really helpful!", "positive", False),
    ],
)
def test_a_message_is_a_complaint_when_it_is_negative_or_complains_in_so_many_words(
    text: str, label: str, expected: bool
) -> None:
    assert is_complaint(text, label) is expected


@pytest.mark.parametrize(
    ("text", "score", "severity", "reason"),
    [
        ("The courier was late.", -0.2, "low", "mildly negative (-0.20)"),
        ("My parcel never arrived.", 0.0, "low", "complaint cue, tone not negative (0.00)"),
        ("This is really bad.", -0.5, "medium", "negative (-0.50)"),
        ("This is horrible, disgusting service.", -0.9, "high", "strongly negative (-0.90)"),
        ("The courier was late, I'm switching to another shop.", -0.2, "medium", "threatens to leave"),
        ("This is the third time the courier was late.", -0.2, "medium", "repeated or ongoing"),
        ("THE COURIER WAS LATE AGAIN", -0.2, "medium", "shouting"),
        ("The courier was late!!!", -0.2, "medium", "shouting"),
        ("Third time late, I'm switching to another shop!!!", -0.2, "high", "threatens to leave"),
        ("Third time late, I'm switching to another shop!!!", -0.9, "high", "shouting"),
        ("I want a chargeback for this order.", 0.1, "critical", "mentions legal action"),
        ("I'm calling my lawyer tomorrow.", -0.3, "critical", "mentions legal action"),
        ("The charger caught fire in my kitchen.", -0.3, "critical", "mentions a safety risk"),
        ("My son had an allergic reaction to the snack.", -0.3, "critical", "mentions a safety risk"),
    ],
)
def test_severity_follows_the_sentiment_raised_by_cues_and_is_critical_only_for_legal_or_safety_matters(
    text: str, score: float, severity: str, reason: str
) -> None:
    found, why = complaint_severity(text, score)
    assert found == severity
    assert reason in why


def test_cues_never_make_a_complaint_critical_on_their_own() -> None:
    severity, reason = complaint_severity("FOURTH TIME I AM ASKING, CANCEL MY ACCOUNT NOW!!!", -1.0)
    assert severity == "high"
    assert reason == "strongly negative (-1.00); threatens to leave; repeated or ongoing; shouting"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WHERE IS MY ORDER", True),
        ("Ok!!!", True),
        ("I ordered from UPS and DHL via the USA site", False),
        ("Where is my order?", False),
        ("NO", False),
    ],
)
def test_shouting_is_mostly_capitals_or_three_exclamation_marks(text: str, expected: bool) -> None:
    assert shouting(text) is expected


def test_a_conversations_complaint_is_its_most_severe_the_latest_among_equals() -> None:
    assert worst_complaint([]) is None
    assert worst_complaint([("", ""), ("", "")]) is None
    assert worst_complaint([("delivery", "low"), ("billing", "high"), ("refund", "medium")]) == ("billing", "high")
    assert worst_complaint([("delivery", "medium"), ("", ""), ("refund", "medium")]) == ("refund", "medium")
    assert worst_complaint([("billing", "critical"), ("delivery", "high")]) == ("billing", "critical")
