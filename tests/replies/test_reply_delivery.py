"""No lost replies: messages wait for their reply until it is stored, a conversation's messages are
answered in order by one run at a time, the sweeper queues again what a lost task left waiting,
and a takeover stops a reply mid-stream. Scripted responders; the real-process versions are in
tests/faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from chatbot.conversations import events, services
from chatbot.conversations.models import Conversation, ConversationStatus, Message, Sender, Visitor
from chatbot.replies import receivers, sweeper
from chatbot.replies import services as replies
from chatbot.replies.locks import conversation_reply_lock
from intents.types import Answer, Turn

pytestmark = pytest.mark.django_db


class EchoResponder:
    """Answers "re: <the customer's last words>" in two streamed pieces."""

    def __init__(self, on_piece: Any = None) -> None:
        self.on_piece = on_piece
        self.asked: list[str] = []

    def answer(self, history: list[Turn]) -> Iterator[str | Answer]:
        text = f"re: {history[-1].text}"
        self.asked.append(history[-1].text)
        for number, piece in enumerate((text[:4], text[4:])):
            if self.on_piece is not None:
                self.on_piece(number)
            yield piece
        yield Answer(text=text, intent="faq", confidence=0.9)


class FailingResponder:
    def answer(self, history: list[Turn]) -> Iterator[str | Answer]:
        raise RuntimeError("the model crashed")
        yield ""  # pragma: no cover


@pytest.fixture
def visitor(shop_site: Any) -> Visitor:
    return Visitor.objects.create(site=shop_site)


@pytest.fixture
def dispatched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Queued replies are recorded, not run: as if every task got lost."""
    queued: list[int] = []
    monkeypatch.setattr(receivers, "replies_dispatch", lambda waiting: queued.extend(m for m, _ in waiting))
    monkeypatch.setattr(sweeper, "reply_dispatch", queued.append)
    return queued


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(events, "group_send", lambda group, event: sent.append(event))
    return sent


def use(monkeypatch: pytest.MonkeyPatch, responder: Any) -> Any:
    monkeypatch.setattr(replies, "responder_for", lambda site, language=None: responder)
    return responder


def ask(visitor: Visitor, text: str) -> Message:
    return services.message_receive(visitor=visitor, client_id=f"c-{text}", text=text).message


def age(message: Message, *, created_s: float, dispatched_s: float) -> None:
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(
        created_at=now - timedelta(seconds=created_s), reply_dispatched_at=now - timedelta(seconds=dispatched_s)
    )


def test_a_message_for_the_bot_waits_for_its_reply_until_the_reply_is_stored(
    visitor: Visitor, dispatched: list[int], published: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, EchoResponder())
    message = ask(visitor, "where is my parcel")
    message.refresh_from_db()
    assert message.reply_pending and message.reply_dispatched_at is not None

    reply = replies.reply_generate(message_id=message.pk)

    message.refresh_from_db()
    assert reply is not None and reply.text == "re: where is my parcel"
    assert not message.reply_pending and message.reply_attempts == 1


def test_the_sweeper_queues_again_a_reply_whose_task_was_lost_and_only_once_per_wait(
    visitor: Visitor, dispatched: list[int], settings: Any
) -> None:
    settings.CHATBOT_REPLY_SWEEP_AFTER_S = 30
    message = ask(visitor, "hello?")
    dispatched.clear()
    assert sweeper.replies_sweep().requeued == []  # queued just now: not lost yet

    age(message, created_s=31, dispatched_s=31)
    assert sweeper.replies_sweep().requeued == [message.pk]
    assert sweeper.replies_sweep().requeued == []  # a second web process sweeping right after
    assert dispatched == [message.pk]


def test_of_two_web_processes_sweeping_at_once_only_one_queues_the_reply(
    visitor: Visitor, dispatched: list[int]
) -> None:
    message = ask(visitor, "hello?")
    age(message, created_s=31, dispatched_s=31)
    read_by_one, read_by_other = Message.objects.get(pk=message.pk), Message.objects.get(pk=message.pk)
    now = timezone.now()
    assert sweeper._claim(read_by_one, now=now)
    assert not sweeper._claim(read_by_other, now=now)


def test_the_sweeper_waits_longer_each_time_it_queues_the_same_reply(visitor: Visitor, dispatched: list[int]) -> None:
    message = ask(visitor, "anyone there?")
    # First queued 100 s ago, queued again 40 s ago: the next try waits as long as the last gap (60 s).
    age(message, created_s=100, dispatched_s=40)
    assert sweeper.replies_sweep().requeued == []
    age(message, created_s=100, dispatched_s=61)
    assert sweeper.replies_sweep().requeued == [message.pk]


def answered_lately(shop_site: Any, *, queued_s: float) -> None:
    """Another visitor's message, queued `queued_s` ago and answered a moment ago."""
    other = ask(Visitor.objects.create(site=shop_site), f"other {queued_s}")
    age(other, created_s=queued_s, dispatched_s=queued_s)
    services.bot_reply_store(
        customer_message=other, answer=Answer(text="Yes.", intent="faq", confidence=0.9), timings={}
    )


def test_a_message_still_queued_behind_a_backlog_that_is_being_answered_is_not_queued_again(
    visitor: Visitor, shop_site: Any, dispatched: list[int]
) -> None:
    message = ask(visitor, "still there?")
    age(message, created_s=35, dispatched_s=35)
    answered_lately(shop_site, queued_s=40)  # the workers are busy with what was queued before it
    assert sweeper.replies_sweep().requeued == []


def test_a_message_the_queue_has_gone_past_without_answering_is_queued_again(
    visitor: Visitor, shop_site: Any, dispatched: list[int]
) -> None:
    message = ask(visitor, "still there?")
    age(message, created_s=35, dispatched_s=35)
    answered_lately(shop_site, queued_s=20)  # queued after it, answered: its own task was lost
    assert sweeper.replies_sweep().requeued == [message.pk]


def test_the_sweeper_queues_only_the_oldest_waiting_message_of_a_conversation(
    visitor: Visitor, dispatched: list[int]
) -> None:
    first, second = ask(visitor, "one"), ask(visitor, "two")
    for message in (first, second):
        age(message, created_s=60, dispatched_s=60)
    assert sweeper.replies_sweep().requeued == [first.pk]


def test_a_conversation_a_person_took_over_has_nothing_waiting_for_the_bot(
    visitor: Visitor, dispatched: list[int], shop_site: Any
) -> None:
    from chatbot.console.services import conversation_claim
    from tests.console.conftest import make_operator

    message = ask(visitor, "help")
    age(message, created_s=60, dispatched_s=60)
    conversation_claim(conversation_id=message.conversation_id, operator=make_operator("alex", sites=[shop_site]))

    assert not Message.objects.filter(reply_pending=True).exists()
    assert sweeper.replies_sweep().requeued == []


def test_one_run_answers_every_waiting_message_of_the_conversation_oldest_first(
    visitor: Visitor, dispatched: list[int], published: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    responder = use(monkeypatch, EchoResponder())
    first, second, third = ask(visitor, "one"), ask(visitor, "two"), ask(visitor, "three")

    # The third message's task runs first (another worker was faster): it answers all three, in order.
    replies.reply_generate(message_id=third.pk)
    assert replies.reply_generate(message_id=first.pk) is not None  # its own task finds it answered

    bot = list(Message.objects.filter(sender=Sender.BOT).order_by("seq").values_list("reply_to__seq", "text"))
    assert bot == [(first.seq, "re: one"), (second.seq, "re: two"), (third.seq, "re: three")]
    assert responder.asked == ["one", "two", "three"]


def test_a_task_that_finds_the_conversation_held_by_another_run_leaves_its_message_to_that_run(
    visitor: Visitor, dispatched: list[int], published: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    responder = use(monkeypatch, EchoResponder())
    message = ask(visitor, "where is it")
    with conversation_reply_lock(message.conversation_id) as held:
        assert held is not None
        assert replies.reply_generate(message_id=message.pk) is None
    assert responder.asked == []
    assert Message.objects.get(pk=message.pk).reply_pending


def test_a_message_whose_reply_keeps_failing_is_handed_to_a_person_after_the_last_attempt(
    visitor: Visitor,
    dispatched: list[int],
    published: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    settings.CHATBOT_REPLY_MAX_ATTEMPTS = 2
    use(monkeypatch, FailingResponder())
    message = ask(visitor, "refund please")
    for _ in range(2):
        with pytest.raises(RuntimeError):
            replies.reply_generate(message_id=message.pk)
        assert Message.objects.get(pk=message.pk).reply_pending  # still waiting: the sweeper retries

    replies.reply_generate(message_id=message.pk)

    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert conversation.status == ConversationStatus.WAITING_HUMAN
    last = Message.objects.filter(conversation=conversation).order_by("seq").last()
    assert last is not None and last.sender == Sender.SYSTEM and last.text == services.REPLY_FAILED_TEXT
    assert not Message.objects.filter(reply_pending=True).exists()


def test_a_takeover_while_the_reply_streams_stops_it_and_no_bot_reply_is_stored(
    visitor: Visitor,
    dispatched: list[int],
    published: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    from chatbot.console.services import conversation_claim
    from tests.console.conftest import make_operator

    settings.CHATBOT_REPLY_STATUS_CHECK_S = 0
    operator = make_operator("alex", sites=[visitor.site])
    message = ask(visitor, "can I talk to someone")

    def take_over_after_the_first_piece(number: int) -> None:
        if number == 1:
            conversation_claim(conversation_id=message.conversation_id, operator=operator)

    use(monkeypatch, EchoResponder(on_piece=take_over_after_the_first_piece))

    assert replies.reply_generate(message_id=message.pk) is None
    assert not Message.objects.filter(sender=Sender.BOT).exists()
    streamed = [e["frame"]["delta"] for e in published if e["type"] == "chat.token"]
    assert streamed == ["re: "]  # the piece before the takeover; nothing after it


def test_a_reply_that_cannot_be_queued_is_still_stored_and_waits_for_the_sweeper(
    visitor: Visitor,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: Any,
) -> None:
    from chatbot.replies import tasks

    def broker_down(args: tuple[int], **options: Any) -> None:
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    settings.CHATBOT_DISPATCH = "celery"
    monkeypatch.setattr(tasks.reply_generate, "apply_async", broker_down)
    monkeypatch.setattr("chatbot.sentiment.receivers.sentiment_dispatch", lambda message_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        message = ask(visitor, "is my order lost")

    assert Message.objects.get(pk=message.pk).reply_pending
    assert "the sweeper will retry" in caplog.text


@pytest.mark.django_db(transaction=True)
async def test_pieces_of_a_bot_reply_still_in_flight_after_a_takeover_never_reach_the_widget(
    shop_site: Any, dispatched: list[int]
) -> None:
    from channels.layers import get_channel_layer

    from tests.support.websockets import connect

    connected, widget = await connect(site="shop")
    assert connected
    await widget.ask("hello")
    ack, _ = await widget.receive(), await widget.receive()
    layer, group = get_channel_layer(), events.conversation_group(ack["conversation"])

    def token(delta: str) -> dict[str, Any]:
        return {"type": "chat.token", "frame": {"type": "token", "reply_to": ack["seq"], "delta": delta, "attempt": 1}}

    await layer.group_send(group, token("Hi, "))
    assert (await widget.receive())["delta"] == "Hi, "
    await layer.group_send(group, {"type": "chat.status", "frame": {"type": "status", "status": "human"}})
    await layer.group_send(group, token("I am the bot"))
    assert (await widget.receive())["status"] == "human"
    assert await widget.communicator.receive_nothing(timeout=0.5)
    await widget.close()
