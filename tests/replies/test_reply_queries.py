"""What a reply costs the database: a worker's replies per second are bound by its round trips."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot.conversations.models import Message, Sender, Visitor
from chatbot.conversations.services import message_receive
from chatbot.replies.services import reply_generate

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_reply_reads_its_site_once_and_costs_at_most_sixteen_statements(
    shop_site: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, django_assert_max_num_queries: Any
) -> None:
    settings.CHATBOT_RESPONDER = "echo"
    monkeypatch.setattr("chatbot.replies.receivers.replies_dispatch", lambda waiting: None)
    first, second = (
        message_receive(visitor=Visitor.objects.create(site=shop_site), client_id="c1", text=text).message
        for text in ("hello", "hello again")
    )
    reply_generate(message_id=first.pk)  # the site's index is built on the first reply
    # The message with its conversation, site, organisation and plan; the waiting message; its
    # attempt counted; the history; the reply stored (6 with BEGIN and COMMIT); the answer metered
    # (3); and twice "anything else waiting?".
    with django_assert_max_num_queries(16):
        reply = reply_generate(message_id=second.pk)
    assert reply is not None and reply.sender == Sender.BOT
    assert Message.objects.get(pk=second.pk).reply_pending is False
