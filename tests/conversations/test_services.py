from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from chatbot.conversations import services
from chatbot.conversations.models import ConversationStatus, Message, Sender, Visitor
from chatbot.conversations.tokens import visitor_token_issue
from intents.types import Answer, Source

pytestmark = pytest.mark.django_db

ANSWER = Answer(text="Two to four days.", intent="faq", confidence=0.8, sources=(Source(1, "Delivery?", 0.8),))


@pytest.fixture
def visitor(shop_site: Any) -> Visitor:
    return Visitor.objects.create(site=shop_site)


@pytest.fixture(autouse=True)
def no_reply_dispatch(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    dispatched: list[int] = []
    monkeypatch.setattr(
        "chatbot.replies.receivers.replies_dispatch", lambda waiting: dispatched.extend(m for m, _ in waiting)
    )
    return dispatched


def test_a_new_visitor_gets_a_token_and_no_conversation_yet(shop_site: Any) -> None:
    session = services.session_open(site=shop_site, token=None)
    assert session.conversation is None
    assert not session.token_was_invalid
    assert services.session_open(site=shop_site, token=session.token).visitor == session.visitor


def test_an_invalid_token_starts_a_new_visitor_and_says_so(shop_site: Any, visitor: Visitor) -> None:
    session = services.session_open(site=shop_site, token="forged")
    assert session.token_was_invalid
    assert session.visitor != visitor


def test_a_token_for_a_visitor_of_another_site_is_not_accepted(shop_site: Any) -> None:
    from chatbot.sites.models import Site

    other = Site.objects.create(key="other", name="Other")
    stranger = Visitor.objects.create(site=other)
    forged = visitor_token_issue(site_key="shop", visitor_id=stranger.public_id)
    session = services.session_open(site=shop_site, token=forged)
    assert session.visitor != stranger
    assert session.token_was_invalid


def test_the_first_message_starts_a_conversation_and_queues_a_reply(
    visitor: Visitor, no_reply_dispatch: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        received = services.message_receive(visitor=visitor, client_id="c1", text="hello", page_url="https://x/y")
    assert received.created and received.conversation_started
    assert received.message.seq == 1
    assert received.message.conversation.page_url == "https://x/y"
    assert no_reply_dispatch == [received.message.pk]


def test_a_resent_client_id_stores_nothing_and_returns_the_same_message(
    visitor: Visitor, no_reply_dispatch: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = services.message_receive(visitor=visitor, client_id="c1", text="hello")
        again = services.message_receive(visitor=visitor, client_id="c1", text="hello")
    assert not again.created
    assert again.message.pk == first.message.pk
    assert Message.objects.count() == 1
    assert no_reply_dispatch == [first.message.pk]


def test_sequence_numbers_are_gapless_across_senders(visitor: Visitor) -> None:
    first = services.message_receive(visitor=visitor, client_id="c1", text="hello").message
    reply = services.bot_reply_store(customer_message=first, answer=ANSWER, timings={})
    second = services.message_receive(visitor=visitor, client_id="c2", text="and?").message
    services.conversation_handoff_request(visitor=visitor)
    seqs = list(Message.objects.order_by("seq").values_list("seq", flat=True))
    assert reply is not None
    assert (first.seq, reply.seq, second.seq) == (1, 2, 3)
    assert seqs == [1, 2, 3, 4]
    assert first.conversation.__class__.objects.get().last_seq == 4


def test_a_customer_message_gets_at_most_one_bot_reply(visitor: Visitor) -> None:
    question = services.message_receive(visitor=visitor, client_id="c1", text="hello").message
    first = services.bot_reply_store(customer_message=question, answer=ANSWER, timings={})
    second = services.bot_reply_store(customer_message=question, answer=ANSWER, timings={})
    assert first is not None and second is not None
    assert first.pk == second.pk
    assert Message.objects.filter(sender=Sender.BOT).count() == 1


def test_the_database_itself_refuses_a_second_reply_to_one_message(visitor: Visitor) -> None:
    question = services.message_receive(visitor=visitor, client_id="c1", text="hello").message
    services.bot_reply_store(customer_message=question, answer=ANSWER, timings={})
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            conversation=question.conversation, seq=99, sender=Sender.BOT, text="again", reply_to=question
        )


def test_a_bot_reply_is_dropped_once_a_person_has_taken_over(visitor: Visitor) -> None:
    question = services.message_receive(visitor=visitor, client_id="c1", text="hello").message
    question.conversation.status = ConversationStatus.HUMAN
    question.conversation.save()
    assert services.bot_reply_store(customer_message=question, answer=ANSWER, timings={}) is None
    assert not Message.objects.filter(sender=Sender.BOT).exists()


def test_asking_for_a_human_stops_the_bot_from_answering(
    visitor: Visitor, no_reply_dispatch: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        conversation = services.conversation_handoff_request(visitor=visitor)
        again = services.conversation_handoff_request(visitor=visitor)
        services.message_receive(visitor=visitor, client_id="c1", text="anyone there?")
    assert conversation.status == ConversationStatus.WAITING_HUMAN
    assert again.pk == conversation.pk
    assert list(Message.objects.values_list("sender", flat=True)) == [Sender.SYSTEM, Sender.CUSTOMER]
    assert no_reply_dispatch == []


def test_feedback_is_stored_on_a_bot_answer_only(visitor: Visitor) -> None:
    question = services.message_receive(visitor=visitor, client_id="c1", text="hello").message
    reply = services.bot_reply_store(customer_message=question, answer=ANSWER, timings={})
    assert reply is not None
    services.message_feedback_set(conversation_id=reply.conversation_id, seq=reply.seq, value="up")
    reply.refresh_from_db()
    assert reply.feedback == "up"
    with pytest.raises(services.UnknownSeq):
        services.message_feedback_set(conversation_id=reply.conversation_id, seq=question.seq, value="up")
