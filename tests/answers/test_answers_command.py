"""`manage.py answers evaluate`: scripted questions through the widget's reply path, scored."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from chatbot.conversations.models import Conversation, Message, Sender

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

QUESTIONS = {
    "in_scope": [
        {
            "text": "what does postage cost me?",
            "expect": "How much does shipping cost?",
            "must": r"4\.95",
            "forbid": [r"free on all orders"],
        },
        {
            "text": "I already placed my order, can I add another item to it?",
            "expect": "Can I add an item to an order I already placed?",
            "must": r"can't add|cannot add|second order",
            "forbid": [r"^\s*yes\b"],
        },
        {
            # Scored against an entry that does not answer it: counted as wrong, and listed.
            "text": "how much is delivery?",
            "expect": "Do you sell gift cards?",
            "must": r"gift",
            "forbid": [],
        },
    ],
    "out_of_scope": ["What's the capital of France?", "Write me a poem about the sea."],
    "followups": [
        {
            "turns": ["do you deliver to Norway?", "and Switzerland?"],
            "expect": "Do you ship outside the EU and UK?",
            "must": r"Switzerland",
            "forbid": [r"\bwe (?:do )?ship to switzerland"],
        }
    ],
}


def evaluate(tmp_path: Path, questions: dict[str, Any], *extra: str) -> dict[str, Any]:
    path = tmp_path / "questions.json"
    path.write_text(json.dumps(questions))
    out = StringIO()
    call_command("answers", "evaluate", "--site", "demo", "--questions", str(path), "--json", *extra, stdout=out)
    return dict(json.loads(out.getvalue()))


def test_each_question_is_answered_in_a_conversation_of_its_own_and_scored(demo_site: Any, tmp_path: Path) -> None:
    report = evaluate(tmp_path, QUESTIONS, "--generator", "off", "--replies")

    assert (report["in_scope"], report["out_of_scope"], report["followups"]) == (3, 2, 1)
    assert Conversation.objects.filter(visitor__site=demo_site).count() == 6
    assert Message.objects.filter(sender=Sender.CUSTOMER).count() == 7  # the follow-up has two turns
    replies = {tuple(r["turns"]): r for r in report["replies"]}
    shipping = replies[("what does postage cost me?",)]
    assert shipping["correct"] and shipping["cited"] == ["How much does shipping cost?"]
    assert replies[("how much is delivery?",)]["correct"] is False  # the label names the wrong entry
    assert [w["turns"] for w in report["wrong"]] == [["how much is delivery?"]]
    assert report["correct"] == 0.75 and report["contradictions"] == 0
    assert report["oos_refused"] == 1.0 and report["generated_share"] == 0.0
    assert report["ttft_ms_p50"] is not None and report["ttft_ms_p50"] <= report["ttft_ms_p99"]
    assert {"clarify_rate", "handoff_rate", "contradiction_texts"} <= set(report)


def test_a_reply_that_states_a_forbidden_claim_is_a_contradiction(demo_site: Any, tmp_path: Path) -> None:
    questions = {
        "in_scope": [
            {
                "text": "what does postage cost me?",
                "expect": "How much does shipping cost?",
                "must": r"4\.95",
                "forbid": [r"€4\.95"],  # the FAQ's own words, forbidden here to see the count move
            }
        ]
    }
    report = evaluate(tmp_path, questions, "--generator", "off")
    assert report["contradictions"] == 1 and report["correct"] == 0.0
    assert report["contradiction_texts"][0]["question"] == "what does postage cost me?"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "expected an object"),
        (json.dumps({"in_scope": [{"text": "hi", "expect": "Not an entry?", "must": "x"}]}), "no active FAQ question"),
        (json.dumps({"in_scope": [{"text": "hi", "expect": "Are returns free?", "must": "("}]}), "bad regex"),
        (json.dumps({"followups": [{"turns": ["only one"], "expect": "Are returns free?", "must": "x"}]}), "turns"),
    ],
)
def test_a_bad_question_file_is_refused_with_the_reason(
    demo_site: Any, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=message):
        call_command("answers", "evaluate", "--site", "demo", "--questions", str(path))


def test_an_unknown_site_is_refused(db: None, tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_text(json.dumps(QUESTIONS))
    with pytest.raises(CommandError, match="no site"):
        call_command("answers", "evaluate", "--site", "nope", "--questions", str(path))
