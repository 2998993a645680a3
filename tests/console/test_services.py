"""Operator actions on conversations, straight through the services, on PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from chatbot.console import services
from chatbot.console.models import Role
from chatbot.conversations.models import Conversation, ConversationStatus, Message, Sender, Visitor
from chatbot.conversations.services import conversation_handoff_request, message_receive
from tests.console.conftest import make_operator


@pytest.fixture
def waiting(db: None, shop_site: Any, settings: Any) -> Conversation:
    settings.CHATBOT_DISPATCH = "inline"
    visitor = Visitor.objects.create(site=shop_site)
    return conversation_handoff_request(visitor=visitor)


def test_asking_for_a_person_records_when_the_conversation_started_waiting(waiting: Conversation) -> None:
    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.WAITING_HUMAN
    assert waiting.waiting_since is not None and waiting.handed_off_at == waiting.waiting_since


@pytest.mark.django_db(transaction=True)
def test_of_eight_operators_claiming_at_the_same_moment_exactly_one_wins(shop_site: Any, settings: Any) -> None:
    settings.CHATBOT_DISPATCH = "inline"
    conversation = conversation_handoff_request(visitor=Visitor.objects.create(site=shop_site))
    operators = [make_operator(f"op{i}", sites=[shop_site]) for i in range(8)]
    start = threading.Barrier(len(operators))
    results: list[services.Claim] = []

    def claim(operator: Any) -> None:
        start.wait()
        try:
            results.append(services.conversation_claim(conversation_id=conversation.pk, operator=operator))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(op,)) for op in operators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r.won]
    assert len(results) == 8 and len(winners) == 1
    assert {r.holder for r in results} == {winners[0].holder}
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.HUMAN and conversation.waiting_since is None
    assert Message.objects.filter(conversation=conversation, text__endswith="joined the chat.").count() == 1


def test_claiming_again_by_the_holder_is_a_win_without_a_second_notice(waiting: Conversation, shop_site: Any) -> None:
    alex = make_operator("alex", sites=[shop_site])
    assert services.conversation_claim(conversation_id=waiting.pk, operator=alex).won
    assert services.conversation_claim(conversation_id=waiting.pk, operator=alex).won
    assert Message.objects.filter(sender=Sender.SYSTEM, text__endswith="joined the chat.").count() == 1


def test_an_operator_reply_is_stored_once_per_client_id_and_marks_the_first_human_reply(
    waiting: Conversation, shop_site: Any
) -> None:
    alex = make_operator("alex", sites=[shop_site])
    services.conversation_claim(conversation_id=waiting.pk, operator=alex)
    first = services.operator_message_send(conversation_id=waiting.pk, operator=alex, text=" Hi! ", client_id="a1")
    again = services.operator_message_send(conversation_id=waiting.pk, operator=alex, text="Hi!", client_id="a1")
    services.operator_message_send(conversation_id=waiting.pk, operator=alex, text="Anything else?", client_id="a2")
    assert first.pk == again.pk and first.text == "Hi!" and first.author_name == "Alex"
    assert Message.objects.filter(sender=Sender.OPERATOR).count() == 2
    waiting.refresh_from_db()
    assert waiting.first_human_reply_at is not None and waiting.first_human_reply_at <= first.created_at
    seqs = list(Message.objects.filter(conversation=waiting).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_only_the_operator_who_took_over_can_reply_or_hand_back(waiting: Conversation, shop_site: Any) -> None:
    alex, sam = make_operator("alex", sites=[shop_site]), make_operator("sam", sites=[shop_site])
    with pytest.raises(services.ConsoleActionError) as before:
        services.operator_message_send(conversation_id=waiting.pk, operator=alex, text="hello")
    assert before.value.code == "not_assigned"
    services.conversation_claim(conversation_id=waiting.pk, operator=alex)
    for action in (services.conversation_release, services.conversation_close):
        with pytest.raises(services.ConsoleActionError):
            action(conversation_id=waiting.pk, operator=sam)
    with pytest.raises(services.ConsoleActionError):
        services.operator_message_send(conversation_id=waiting.pk, operator=sam, text="hello")
    assert not Message.objects.filter(sender=Sender.OPERATOR).exists()


def test_an_admin_may_close_a_conversation_someone_else_holds(waiting: Conversation, shop_site: Any) -> None:
    alex = make_operator("alex", sites=[shop_site])
    boss = make_operator("boss", sites=[], role=Role.ADMIN)
    services.conversation_claim(conversation_id=waiting.pk, operator=alex)
    closed = services.conversation_close(conversation_id=waiting.pk, operator=boss)
    assert closed.status == ConversationStatus.CLOSED and closed.closed_at is not None


def test_handing_back_lets_the_bot_answer_the_next_customer_message(
    waiting: Conversation, shop_site: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dispatched: list[int] = []
    monkeypatch.setattr(
        "chatbot.replies.receivers.replies_dispatch", lambda waiting: dispatched.extend(m for m, _ in waiting)
    )
    alex = make_operator("alex", sites=[shop_site])
    services.conversation_claim(conversation_id=waiting.pk, operator=alex)
    with django_capture_on_commit_callbacks(execute=True):
        message_receive(visitor=waiting.visitor, client_id="c1", text="still there?")
    assert dispatched == []  # a person is answering: the bot stays out
    released = services.conversation_release(conversation_id=waiting.pk, operator=alex)
    assert released.status == ConversationStatus.BOT and released.assignee is None
    with django_capture_on_commit_callbacks(execute=True):
        received = message_receive(visitor=waiting.visitor, client_id="c2", text="how long is delivery?")
    assert dispatched == [received.message.pk]


def test_after_closing_the_customers_next_message_starts_a_new_conversation(
    waiting: Conversation, shop_site: Any
) -> None:
    alex = make_operator("alex", sites=[shop_site])
    services.conversation_claim(conversation_id=waiting.pk, operator=alex)
    services.conversation_close(conversation_id=waiting.pk, operator=alex)
    received = message_receive(visitor=waiting.visitor, client_id="n1", text="one more question")
    assert received.conversation_started and received.message.conversation_id != waiting.pk


def test_an_empty_reply_or_note_is_refused(waiting: Conversation, shop_site: Any) -> None:
    alex = make_operator("alex", sites=[shop_site])
    services.conversation_claim(conversation_id=waiting.pk, operator=alex)
    for action in (services.operator_message_send, services.note_add):
        with pytest.raises(services.ConsoleActionError) as refused:
            action(conversation_id=waiting.pk, operator=alex, text="   ")
        assert refused.value.code == "empty"
