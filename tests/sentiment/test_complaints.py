"""Complaints classified in the sentiment step: stored on the message and, the worst so far, on its
conversation. With the VADER scorer and the bundled MiniLM, as a worker without a trained model
runs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chatbot.conversations.models import Sender
from chatbot.replies import loading
from chatbot.sentiment import services
from chatbot.sentiment.services import message_sentiment_score, messages_sentiment_score

pytestmark = pytest.mark.django_db


def test_a_complaint_is_stored_with_its_category_and_severity_on_the_message_and_its_conversation(
    say: Callable[..., Any], published: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    (message,) = say("You charged my card twice for the same order, this is unacceptable!")
    with django_capture_on_commit_callbacks(execute=True):
        message_sentiment_score(message.pk)
    message.refresh_from_db()
    conversation = message.conversation
    conversation.refresh_from_db()
    assert (message.complaint_category, message.complaint_severity) == ("billing", "medium")
    assert (conversation.complaint_category, conversation.complaint_severity) == ("billing", "medium")
    # The consoles hear of it through the sentiment event, whose row carries the complaint.
    assert {"site_id": conversation.site_id, "conversation_id": conversation.pk, "kind": "sentiment"} in published


def test_a_conversation_keeps_its_worst_complaint_when_the_customer_calms_down(
    say: Callable[..., Any], published: list[dict[str, Any]]
) -> None:
    messages = say(
        "Hi, where is my order?",
        "The parcel never arrived and nobody answers my emails.",
        "Refund me or I will take you to court.",
        "Ok, thanks for sorting it out.",
    )
    say("Sorry about that, the refund is on its way.", sender=Sender.BOT)
    messages_sentiment_score(message_ids=[m.pk for m in messages])
    for message in messages:
        message.refresh_from_db()
    assert [m.complaint_severity for m in messages] == ["", messages[1].complaint_severity, "critical", ""]
    assert messages[1].complaint_category != "" and messages[1].complaint_severity in ("low", "medium", "high")
    conversation = messages[0].conversation
    conversation.refresh_from_db()
    assert conversation.complaint_severity == "critical"
    assert conversation.complaint_category == messages[2].complaint_category != ""


def test_the_latest_of_equally_severe_complaints_is_the_conversations(
    say: Callable[..., Any], published: list[dict[str, Any]]
) -> None:
    first, second = say("My parcel never arrived.", "You charged me twice for it.")
    message_sentiment_score(first.pk)
    message_sentiment_score(second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.complaint_severity == second.complaint_severity == "low"
    assert (first.complaint_category, second.complaint_category) == ("delivery", "billing")
    conversation = first.conversation
    conversation.refresh_from_db()
    assert (conversation.complaint_category, conversation.complaint_severity) == ("billing", "low")


def test_messages_that_are_not_complaints_store_none_and_do_not_wait_for_the_embedding_model(
    say: Callable[..., Any], published: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_needed() -> None:
        raise AssertionError("the complaint classifier was loaded for a batch without complaints")

    monkeypatch.setattr(services, "complaint_classifier_get", not_needed)
    messages = say("Hi, do you ship to Spain?", "Great, thanks a lot!")
    messages_sentiment_score(message_ids=[m.pk for m in messages])
    conversation = messages[0].conversation
    conversation.refresh_from_db()
    for message in messages:
        message.refresh_from_db()
        assert message.sentiment_label in ("neutral", "positive")
        assert (message.complaint_category, message.complaint_severity) == ("", "")
    assert (conversation.complaint_category, conversation.complaint_severity) == ("", "")


def test_the_complaint_classifier_is_built_once_per_process_on_the_answering_embedder() -> None:
    first = loading.complaint_classifier_get()
    assert loading.complaint_classifier_get() is first
    from chatbot.replies.loading import embedder_get

    assert first.embedder is embedder_get()
    assert first.name == "complaints:prototypes"


def test_a_calmly_worded_legal_threat_flags_the_conversation_as_a_critical_complaint(
    say: Callable[..., Any], published: list[dict[str, Any]]
) -> None:
    (message,) = say("Please note that my lawyer will contact you about the damaged sofa.")
    messages_sentiment_score(message_ids=[message.pk])

    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.complaint_severity == "critical"
    assert conversation.escalated_at is not None
    assert conversation.escalation_reason == f"critical complaint ({conversation.complaint_category})"
