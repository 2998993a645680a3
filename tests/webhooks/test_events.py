"""Each state change of a conversation, made by the service that owns it, becomes its event, and
an endpoint gets only the events it subscribes to, of its own site."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatbot.console.models import Role
from chatbot.console.services import conversation_claim, conversation_close, operator_message_send
from chatbot.conversations.models import Visitor
from chatbot.conversations.services import conversation_handoff_request, conversation_rate, message_receive
from chatbot.webhooks.models import EventType, WebhookDelivery
from chatbot.webhooks.services import webhook_endpoint_create
from tests.console.conftest import make_operator

pytestmark = pytest.mark.django_db


def events_of(receiver: Any) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in receiver.requests()]


def test_a_conversations_life_sends_each_event_once(
    shop_site: Any, start_receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    receiver = start_receiver("200")
    webhook_endpoint_create(site=shop_site, url=receiver.url, events=EventType.values)
    operator = make_operator("olga", sites=[shop_site], role=Role.ADMIN)
    visitor = Visitor.objects.create(site=shop_site)

    with django_capture_on_commit_callbacks(execute=True):
        conversation = conversation_handoff_request(visitor=visitor)
    with django_capture_on_commit_callbacks(execute=True):
        message_receive(visitor=visitor, client_id="c1", text="Where is my parcel?")
    with django_capture_on_commit_callbacks(execute=True):
        conversation_claim(conversation_id=conversation.pk, operator=operator)
    with django_capture_on_commit_callbacks(execute=True):
        operator_message_send(conversation_id=conversation.pk, operator=operator, text="On its way.")
    with django_capture_on_commit_callbacks(execute=True):
        conversation_close(conversation_id=conversation.pk, operator=operator)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_rate(visitor=visitor, conversation_id=conversation.pk, score=5)

    events = events_of(receiver)
    kinds = [e["type"] for e in events]
    assert kinds.count("conversation.created") == 1 and kinds[0] == "conversation.created"
    assert kinds.count("conversation.handoff") == 1 and kinds.count("conversation.closed") == 1
    assert kinds.count("rating.created") == 1
    handoff = next(e for e in events if e["type"] == "conversation.handoff")
    assert handoff["data"]["reason"] == "customer_request"
    assert handoff["data"]["conversation"]["status"] == "waiting_human"
    messages = [e["data"]["message"] for e in events if e["type"] == "message.created"]
    senders = [(m["sender"], m["text"]) for m in messages]
    assert ("customer", "Where is my parcel?") in senders and ("operator", "On its way.") in senders
    assert [m["seq"] for m in messages] == sorted(m["seq"] for m in messages)
    assert {m["conversation"] for m in messages} == {conversation.pk}
    rating = next(e for e in events if e["type"] == "rating.created")
    assert rating["data"]["rating"] == 5 and rating["data"]["conversation"]["id"] == conversation.pk
    assert len({e["id"] for e in events}) == len(events)


def test_an_endpoint_gets_only_its_events_and_only_of_its_site(
    shop_site: Any, other_site: Any, start_receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    shop_receiver, other_receiver = start_receiver("200"), start_receiver("200")
    webhook_endpoint_create(site=shop_site, url=shop_receiver.url, events=["conversation.handoff"])
    webhook_endpoint_create(site=other_site, url=other_receiver.url, events=EventType.values)

    with django_capture_on_commit_callbacks(execute=True):
        conversation_handoff_request(visitor=Visitor.objects.create(site=shop_site))

    assert [e["type"] for e in events_of(shop_receiver)] == ["conversation.handoff"]
    assert other_receiver.requests() == []


def test_a_disabled_endpoint_gets_no_new_deliveries(
    shop_site: Any, start_receiver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    receiver = start_receiver("200")
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=EventType.values)
    endpoint.is_active = False
    endpoint.save()

    with django_capture_on_commit_callbacks(execute=True):
        conversation_handoff_request(visitor=Visitor.objects.create(site=shop_site))

    assert not WebhookDelivery.objects.exists() and receiver.requests() == []


def test_a_site_without_endpoints_costs_no_query_per_message_and_a_new_endpoint_gets_the_next_one(
    shop_site: Any, start_receiver: Any, django_capture_on_commit_callbacks: Any, django_assert_num_queries: Any
) -> None:
    from chatbot.conversations.signals import message_stored

    visitor = Visitor.objects.create(site=shop_site)
    with django_capture_on_commit_callbacks(execute=True):
        stored = message_receive(visitor=visitor, client_id="c1", text="hello").message
    # The site's subscriptions are cached: the next message of the site asks the database nothing.
    with django_assert_num_queries(0):
        message_stored.send(sender=type(stored), message=stored)
    receiver = start_receiver("200")
    webhook_endpoint_create(site=shop_site, url=receiver.url, events=["message.created"])
    with django_capture_on_commit_callbacks(execute=True):
        message_receive(visitor=visitor, client_id="c2", text="Where is my parcel?")
    customer = [e["data"]["message"] for e in events_of(receiver) if e["data"]["message"]["sender"] == "customer"]
    assert [m["text"] for m in customer] == ["Where is my parcel?"]
    # Disabled (saved), it is forgotten at once as well.
    WebhookDelivery.objects.all().delete()
    endpoint = webhook_endpoint_create(site=shop_site, url=receiver.url, events=["conversation.handoff"])
    endpoint.is_active = False
    endpoint.save()
    with django_capture_on_commit_callbacks(execute=True):
        conversation_handoff_request(visitor=visitor)
    assert not WebhookDelivery.objects.filter(event_type="conversation.handoff").exists()
