"""What the console is sent about a conversation and its messages: the complaint fields."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from chatbot.console.selectors import conversation_view, inbox_row_get, inbox_rows
from chatbot.conversations.models import Conversation, Message, Sender, Visitor
from tests.console.conftest import make_operator

pytestmark = pytest.mark.django_db


@pytest.fixture
def complained(shop_site: Any) -> Conversation:
    conversation = Conversation.objects.create(
        site=shop_site,
        visitor=Visitor.objects.create(site=shop_site),
        last_seq=2,
        sentiment=-0.8,
        sentiment_label="negative",
        complaint_category="lost_or_damaged_item",
        complaint_severity="critical",
    )
    Message.objects.create(
        conversation=conversation,
        seq=1,
        sender=Sender.CUSTOMER,
        text="The box arrived crushed and the lamp inside caught fire",
        sentiment=-0.8,
        sentiment_label="negative",
        complaint_category="lost_or_damaged_item",
        complaint_severity="critical",
    )
    Message.objects.create(conversation=conversation, seq=2, sender=Sender.BOT, text="I'm so sorry to hear that.")
    return conversation


def test_an_inbox_row_carries_the_conversations_complaint_category_and_severity(
    complained: Conversation, shop_site: Any
) -> None:
    row = inbox_row_get(conversation_id=complained.pk, site_ids=[shop_site.pk])
    assert row is not None
    assert (row["complaint_category"], row["complaint_severity"]) == ("lost_or_damaged_item", "critical")
    assert [r["complaint_severity"] for r in inbox_rows(site_ids=[shop_site.pk])] == ["critical"]


def test_a_conversation_without_a_complaint_has_null_complaint_fields(shop_site: Any) -> None:
    calm = Conversation.objects.create(site=shop_site, visitor=Visitor.objects.create(site=shop_site))
    row = inbox_row_get(conversation_id=calm.pk, site_ids=[shop_site.pk])
    assert row is not None
    assert (row["complaint_category"], row["complaint_severity"]) == (None, None)


def test_message_frames_carry_the_complaint_of_customer_messages_only(complained: Conversation, shop_site: Any) -> None:
    view = conversation_view(conversation_id=complained.pk, site_ids=[shop_site.pk])
    assert view is not None
    assert [(m["sender"], m["complaint_category"], m["complaint_severity"]) for m in view["messages"]] == [
        ("customer", "lost_or_damaged_item", "critical"),
        ("bot", None, None),
    ]
    assert view["conversation"]["complaint_severity"] == "critical"


def test_the_conversation_pane_has_a_place_for_the_complaint_badge(client: Client, shop_site: Any) -> None:
    operator = make_operator("olga", sites=[shop_site])
    client.force_login(operator.user)
    response = client.get("/console/")
    assert response.status_code == 200
    assert b'<span data-ref="complaint"></span>' in response.content


def test_the_rows_of_several_changed_conversations_are_one_query_and_only_the_operators_sites(
    complained: Conversation, shop_site: Any, django_assert_num_queries: Any
) -> None:
    from chatbot.console.selectors import inbox_rows_get
    from chatbot.sites.models import Site

    other_site = Site.objects.create(key="other", name="Other shop")
    calm = Conversation.objects.create(site=shop_site, visitor=Visitor.objects.create(site=shop_site))
    elsewhere = Conversation.objects.create(site=other_site, visitor=Visitor.objects.create(site=other_site))
    with django_assert_num_queries(1):
        rows = inbox_rows_get(conversation_ids=[calm.pk, elsewhere.pk, complained.pk], site_ids=[shop_site.pk])
    assert [row["id"] for row in rows] == sorted([complained.pk, calm.pk])
    assert rows == [inbox_row_get(conversation_id=row["id"], site_ids=[shop_site.pk]) for row in rows]
