"""The dataset builder: logged conversations and the FAQ in, cleaned training pairs out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatbot.knowledge.models import FaqEntry
from chatbot.learning.services import training_dataset_build
from intents.learning import LoggedMessage, Passage, TrainingPair, operator_reply_pairs, prepare_pairs


def pairs_of(messages: list[LoggedMessage]) -> list[tuple[str, str]]:
    return [(p.question, p.answer) for p in operator_reply_pairs(messages)]


def test_operator_replies_answer_the_customer_messages_before_them() -> None:
    messages = [
        LoggedMessage(1, "customer", "My parcel is damaged."),
        LoggedMessage(2, "customer", "What can I do?"),
        LoggedMessage(3, "bot", "Let me find someone for you.", "handoff"),
        LoggedMessage(4, "system", "Alex joined the chat."),
        LoggedMessage(5, "operator", "Sorry to hear that!"),
        LoggedMessage(6, "operator", "Send us a photo and we replace it for free."),
        LoggedMessage(7, "customer", "Do I keep the broken one?"),
        LoggedMessage(8, "operator", "Yes, no need to send it back."),
    ]
    assert pairs_of(messages) == [
        ("My parcel is damaged. What can I do?", "Sorry to hear that! Send us a photo and we replace it for free."),
        ("Do I keep the broken one?", "Yes, no need to send it back."),
    ]


def test_a_request_for_a_person_is_not_part_of_the_question() -> None:
    messages = [
        LoggedMessage(1, "customer", "Can I pay by invoice?"),
        LoggedMessage(2, "customer", "let me talk to a human"),
        LoggedMessage(3, "operator", "Yes, for business customers."),
    ]
    assert pairs_of(messages) == [("Can I pay by invoice?", "Yes, for business customers.")]


def test_asking_when_a_person_can_be_reached_is_a_question_the_operator_answers() -> None:
    messages = [
        LoggedMessage(1, "customer", "can I talk to a human on Sunday?"),
        LoggedMessage(2, "operator", "Not on Sundays, but on Saturday from 10:00 to 14:00."),
    ]
    assert pairs_of(messages) == [
        ("can I talk to a human on Sunday?", "Not on Sundays, but on Saturday from 10:00 to 14:00.")
    ]


def test_what_the_bot_already_answered_is_not_paired_with_a_later_operator_message() -> None:
    messages = [
        LoggedMessage(1, "customer", "Opening hours?"),
        LoggedMessage(2, "bot", "We are open 9 to 5.", "answer"),
        LoggedMessage(3, "operator", "Anything else?"),
    ]
    assert pairs_of(messages) == []


def test_duplicates_keep_the_better_source_and_golden_questions_are_left_out() -> None:
    pairs = [
        TrainingPair("How long is delivery?", "2-3 days.", "faq"),
        TrainingPair("how long is delivery", "2-3 days", "operator_reply"),
        TrainingPair("Where is my refund?", "Within 10 days.", "liked_answer"),
        TrainingPair("ok", "Fine.", "operator_reply"),
    ]
    prepared = prepare_pairs(pairs, exclude_questions={"Where is my refund"})
    assert [(p.source, p.question) for p in prepared.pairs] == [("operator_reply", "how long is delivery")]
    assert prepared.stats["faq"] == {"found": 1, "duplicate": 1}
    assert prepared.stats["liked_answer"] == {"found": 1, "golden": 1}
    assert prepared.stats["operator_reply"] == {"found": 2, "kept": 1, "too_short": 1}


def test_personal_data_is_redacted_from_what_customers_and_operators_typed() -> None:
    pair = TrainingPair(
        "I'm jane.doe@example.com, call +44 20 7946 0958",
        "We refunded card 4111 1111 1111 1111 and wrote to jane.doe@example.com.",
        "operator_reply",
        passages=(Passage("Contact?", "Write to help@shop.example or call +31 20 123 4567."),),
    )
    faq = TrainingPair("How do I reach you?", "Call +31 20 123 4567.", "faq")
    logged, company = prepare_pairs([pair, faq]).pairs
    text = json.dumps(logged.as_json()["question"] + logged.as_json()["answer"])
    assert "jane.doe@example.com" not in text and "7946" not in text and "4111 1111 1111 1111" not in text
    assert logged.question == "I'm [email], call [phone]"
    assert logged.answer == "We refunded card [card] and wrote to [email]."
    # The FAQ is the company's own text: its phone number is what the model should learn to give.
    assert logged.passages == pair.passages
    assert company.answer == "Call +31 20 123 4567."


@pytest.mark.django_db
def test_the_dataset_builder_turns_a_seeded_log_into_exactly_the_expected_pairs(
    shop_site: Any, conversation_of: Any, tmp_path: Path
) -> None:
    entry = FaqEntry.objects.create(
        site=shop_site,
        question="How do I return an item?",
        alternatives=["Can I send it back?"],
        answer="Use the return label in your parcel within 30 days.",
    )
    FaqEntry.objects.create(site=shop_site, question="Old entry", answer="Gone.", is_active=False)
    sources = [{"id": entry.pk, "question": entry.question, "score": 0.8}]
    # A liked answer, a disliked one and an unrated one: only the liked one is learned from.
    conversation_of(
        ("customer", "how do returns work? I'm ann@example.org"),
        ("bot", "Use the return label within 30 days.", {"decision": "answer", "feedback": "up", "sources": sources}),
        ("customer", "and exchanges?"),
        ("bot", "Exchanges are free.", {"decision": "answer", "feedback": "down", "sources": sources}),
        ("customer", "thanks"),
        ("bot", "You're welcome!", {"decision": "answer"}),
    )
    # A handoff answered by an operator, with a phone number in the answer.
    conversation_of(
        ("customer", "My sofa arrived scratched."),
        ("bot", "I'll bring in a colleague.", {"decision": "handoff"}),
        ("operator", "So sorry! Call us on +44 20 7946 0958 and we send a technician."),
    )
    report = training_dataset_build(site=shop_site, path=tmp_path / "data.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "data.jsonl").read_text().splitlines()]
    assert [(r["source"], r["question"], r["answer"]) for r in rows] == [
        (
            "operator_reply",
            "My sofa arrived scratched.",
            "So sorry! Call us on [phone] and we send a technician.",
        ),
        ("liked_answer", "how do returns work? I'm [email]", "Use the return label within 30 days."),
        ("faq", "How do I return an item?", "Use the return label in your parcel within 30 days."),
        ("faq", "Can I send it back?", "Use the return label in your parcel within 30 days."),
    ]
    assert rows[1]["passages"] == [{"question": entry.question, "answer": entry.answer}]
    assert report.pairs == 4
    assert report.stats["operator_reply"]["redacted"] == 1
