"""The site's responder as the product builds it (`responder_for`) keeps the verifier between the
dialogue model and the customer, and fits a FAQ answer's yes/no to the question."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot.replies import responders
from intents.types import Answer, Turn
from tests.intents.generation.conftest import ScriptedGenerator, words_of

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ADD_ITEM_ANSWER_START = "We can't add items to an order once it has been placed"


def reply(site: Any, question: str) -> tuple[str, Answer]:
    pieces = list(responders.responder_for(site=site).answer([Turn("customer", question)]))
    final = pieces[-1]
    assert isinstance(final, Answer)
    return "".join(str(piece) for piece in pieces[:-1]), final


@pytest.mark.parametrize(
    "model_says",
    [
        "Yes, you can add another cushion to your order.",
        "Of course! Just add the cushion in your account and it ships with the rest.",
    ],
)
def test_a_generated_contradiction_never_reaches_the_customer(
    demo_site: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, model_says: str
) -> None:
    settings.CHATBOT_GENERATOR = "local"
    monkeypatch.setattr(responders, "generator_get", lambda: ScriptedGenerator(words_of(model_says)))
    shown, final = reply(demo_site, "I already placed my order, can I add another cushion to it?")
    assert "cushion" not in shown and "cushion" not in final.text
    assert ADD_ITEM_ANSWER_START in final.text and shown == final.text
    assert final.sources[0].question == "Can I add an item to an order I already placed?"


def test_with_the_verifier_off_the_same_contradiction_is_shown(
    demo_site: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CHATBOT_GENERATOR = "local"
    settings.CHATBOT_VERIFIER = False
    monkeypatch.setattr(
        responders,
        "generator_get",
        lambda: ScriptedGenerator(words_of("Yes, you can add another cushion to your order.")),
    )
    shown, _ = reply(demo_site, "I already placed my order, can I add another cushion to it?")
    assert "Yes, you can add another cushion" in shown


def test_a_verified_sentence_that_carries_the_answer_is_shown_as_generated(
    demo_site: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CHATBOT_GENERATOR = "local"
    said = "We can't add items to an order once it has been placed, but you can place a second order."
    monkeypatch.setattr(responders, "generator_get", lambda: ScriptedGenerator(words_of(said)))
    shown, final = reply(demo_site, "I already placed my order, can I add another item to it?")
    assert shown == final.text == said
    assert final.model_version.startswith("scripted-llm+")


def test_the_faq_answer_opens_with_no_where_the_passage_says_no(demo_site: Any, settings: Any) -> None:
    settings.CHATBOT_GENERATOR = "off"
    _, final = reply(demo_site, "I already placed my order, can I add another item to it?")
    assert final.text.startswith("No. " + ADD_ITEM_ANSWER_START)
    settings.CHATBOT_ANSWER_LEAD_IN = False
    _, final = reply(demo_site, "I already placed my order, can I add another item to it?")
    assert final.text.startswith(ADD_ITEM_ANSWER_START)


def test_a_yes_written_for_another_question_is_dropped(demo_site: Any, settings: Any) -> None:
    settings.CHATBOT_GENERATOR = "off"
    _, final = reply(demo_site, "by when does express arrive if I order today?")
    assert final.sources[0].question == "Do you offer express delivery?"
    assert final.text.startswith("Express delivery costs €12.95")  # the entry's answer opens "Yes, express …"
