from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def learning_settings(settings: Any, tmp_path: Any) -> Any:
    settings.SECURE_SSL_REDIRECT = False
    settings.CHATBOT_LEARNING_DIR = tmp_path / "learning"
    settings.CHATBOT_DISPATCH = "inline"
    return settings


@pytest.fixture
def conversation_of(shop_site: Any) -> Callable[..., Any]:
    """conversation_of(("customer", "hi"), ("bot", "Hello!", {"decision": "answer"}), ...) -> its messages."""
    from chatbot.conversations.models import Conversation, Message, Visitor

    def make(*turns: tuple[Any, ...]) -> list[Message]:
        conversation = Conversation.objects.create(site=shop_site, visitor=Visitor.objects.create(site=shop_site))
        messages: list[Message] = []
        previous_customer: Message | None = None
        for number, turn in enumerate(turns, 1):
            sender, text = turn[0], turn[1]
            fields = dict(turn[2]) if len(turn) > 2 else {}
            if sender == "bot" and previous_customer is not None and "reply_to" not in fields:
                fields["reply_to"] = previous_customer
            message = Message.objects.create(conversation=conversation, seq=number, sender=sender, text=text, **fields)
            if sender == "customer":
                previous_customer = message
            elif sender == "bot":
                previous_customer = None
            messages.append(message)
        conversation.last_seq = len(turns)
        conversation.save(update_fields=["last_seq"])
        return messages

    return make
