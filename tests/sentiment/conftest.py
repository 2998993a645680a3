from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chatbot.replies.loading import sentiment_scorer_cache
from tests.support.datasets import airline_csv  # noqa: F401  (a fixture, shared with tests/intents/sentiment)


@pytest.fixture(autouse=True)
def fresh_scorer() -> Iterator[None]:
    """Each test loads the scorer the registry says, not one an earlier test left behind."""
    sentiment_scorer_cache.forget()
    yield
    sentiment_scorer_cache.forget()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The inbox events the sentiment services publish."""
    from chatbot.sentiment import services

    events: list[dict[str, Any]] = []
    monkeypatch.setattr(services.events, "publish_inbox", lambda **kwargs: events.append(kwargs))
    return events


@pytest.fixture
def say(shop_site: Any) -> Callable[..., Any]:
    """Store messages in a conversation of the shop site: say("hi", "thanks") -> the messages."""
    from chatbot.conversations.models import Conversation, Message, Sender, Visitor

    conversation = Conversation.objects.create(site=shop_site, visitor=Visitor.objects.create(site=shop_site))

    def say(*texts: str, sender: str = Sender.CUSTOMER) -> list[Message]:
        messages = []
        for text in texts:
            conversation.last_seq += 1
            messages.append(
                Message.objects.create(conversation=conversation, seq=conversation.last_seq, sender=sender, text=text)
            )
        conversation.save(update_fields=["last_seq"])
        return messages

    return say
