"""A site's own intents: trained with `intents train --site`, then acted on by the answer gate."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from chatbot.conversations.models import Visitor
from chatbot.conversations.services import message_receive
from chatbot.intent_models.models import Intent
from chatbot.replies.services import reply_generate

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

GREETINGS = [
    "hello",
    "hi there",
    "hey",
    "good morning",
    "hiya",
    "hello!",
    "hi",
    "good afternoon",
    "hey there",
    "greetings",
]
WANTS_AGENT = [
    "get me an agent",
    "I need a representative",
    "transfer me to staff",
    "let me chat with your team",
    "can a colleague of yours help me",
    "I want a human agent",
    "escalate this to your support staff",
    "put a team member on",
    "connect me with support staff",
    "your staff please",
]


@pytest.fixture
def trained_demo(demo_site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    Intent.objects.create(
        site=demo_site, name="greeting", action="smalltalk", response="Hello! How can I help?", examples=GREETINGS
    )
    Intent.objects.create(site=demo_site, name="wants_agent", action="handoff", examples=WANTS_AGENT)
    call_command(
        "intents",
        "train",
        "--site",
        "demo",
        "--out",
        str(tmp_path / "model"),
        "--epochs",
        "4",
        "--device",
        "cpu",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    monkeypatch.setattr("chatbot.replies.receivers.replies_dispatch", lambda waiting: None)
    demo_site.refresh_from_db()
    return demo_site


def ask(site: Any, text: str) -> Any:
    visitor = Visitor.objects.create(site=site)
    message = message_receive(visitor=visitor, client_id="c1", text=text).message
    return reply_generate(message_id=message.pk)


def test_a_site_trained_on_its_intents_greets_hands_off_and_still_answers_from_the_faq(
    trained_demo: Any, tmp_path: Path
) -> None:
    # Trained once (a few seconds of CPU), then each behaviour of the gate with an intent model:
    assert trained_demo.intent_model_dir == str((tmp_path / "model").resolve())

    greeting = ask(trained_demo, "hey hello")
    assert (greeting.text, greeting.intent, greeting.decision) == ("Hello! How can I help?", "greeting", "answer")
    assert greeting.decision_reason.startswith("intent greeting p=")

    handoff = ask(trained_demo, "please get me one of your agents")
    assert handoff.decision == "handoff" and handoff.decision_reason.startswith("intent wants_agent")
    handoff.conversation.refresh_from_db()
    assert handoff.conversation.status == "waiting_human"

    faq = ask(trained_demo, "the lamp I bought came broken in the box")
    assert faq.decision == "answer"
    assert faq.sources[0]["question"] == "What should I do if my item arrived damaged?"
