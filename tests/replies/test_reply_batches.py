"""The replies to messages stored together are queued in a few tasks, not one per message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chatbot.conversations import events
from chatbot.conversations.models import Message, Sender, Visitor
from chatbot.conversations.services import message_receive
from chatbot.replies import dispatch, services
from chatbot.replies.dispatch import replies_dispatch, reply_batches


def test_batches_keep_each_conversations_messages_together_in_order_and_stay_within_the_task_count() -> None:
    waiting = [(m, m % 5) for m in range(1, 31)]  # 30 messages over 5 conversations
    batches = reply_batches(waiting, 3)
    assert len(batches) == 3
    assert sorted(m for batch in batches for m in batch) == list(range(1, 31))
    for batch in batches:
        for conversation in {m % 5 for m in batch}:
            own = [m for m in batch if m % 5 == conversation]
            assert own == sorted(own) and len(own) == 6  # all 6 of the conversation, oldest first
    assert max(map(len, batches)) - min(map(len, batches)) <= 6  # about even


def test_fewer_conversations_than_tasks_make_one_batch_each() -> None:
    assert sorted(reply_batches([(1, 10), (2, 11), (3, 10)], 8)) == [[1, 3], [2]]
    assert reply_batches([(1, 10), (2, 10)], 0) == [[1, 2]]


def test_a_commit_of_many_messages_costs_a_few_queued_tasks_and_a_single_message_the_usual_one(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CHATBOT_REPLY_TASKS_PER_COMMIT = 4
    queued: list[tuple[str, Any]] = []
    monkeypatch.setattr(dispatch, "task_dispatch", lambda task, argument, **_: queued.append((task, argument)))
    replies_dispatch([(m, 100 + m) for m in range(1, 41)])
    assert {task for task, _ in queued} == {"chatbot.replies.tasks.replies_generate"}
    assert len(queued) == 4 and sorted(m for _, ids in queued for m in ids) == list(range(1, 41))
    queued.clear()
    replies_dispatch([(7, 107)])
    assert queued == [("chatbot.replies.tasks.reply_generate", 7)]


def test_a_batch_whose_one_reply_fails_still_answers_the_others(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    answered: list[int] = []

    def reply_generate(*, message_id: int, **_: Any) -> object:
        if message_id == 2:
            raise RuntimeError("model crashed")
        answered.append(message_id)
        return object()

    monkeypatch.setattr(services, "reply_generate", reply_generate)
    assert services.replies_generate(message_ids=[1, 2, 3]) == 2
    assert answered == [1, 3]
    assert "reply to message 2 failed" in caplog.text


def test_with_celery_the_tasks_of_a_commit_are_published_through_one_producer_batch(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CHATBOT_DISPATCH = "celery"
    events: list[Any] = []

    class Producer:
        @contextmanager
        def batch(self, max_size: int) -> Iterator[None]:
            events.append(("batch", max_size))
            yield
            events.append("flushed")

    class App:
        @contextmanager
        def producer_or_acquire(self) -> Iterator[Producer]:
            yield Producer()

    class Task:
        app = App()

        def apply_async(self, args: tuple[Any, ...], producer: Producer, **options: Any) -> None:
            events.append(("publish", args, options))

    monkeypatch.setattr(dispatch, "import_string", lambda path: Task())
    dispatch.tasks_dispatch("some.task", [[1, 2], [3]], what="replies", if_lost="retried")
    # Each task's arguments are given as logs and monitors show them (Celery would work them out).
    readable = {"argsrepr": "([1, 2],)", "kwargsrepr": "{}"}
    assert events == [
        ("batch", 2),
        ("publish", ([1, 2],), readable),
        ("publish", ([3],), {"argsrepr": "([3],)", "kwargsrepr": "{}"}),
        "flushed",
    ]


def test_a_broker_that_cannot_take_the_batch_is_logged_and_not_raised(
    settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CHATBOT_DISPATCH = "celery"

    class App:
        def producer_or_acquire(self) -> Any:
            raise ConnectionError("broker down")

    monkeypatch.setattr(dispatch, "import_string", lambda path: type("Task", (), {"app": App()})())
    dispatch.tasks_dispatch("some.task", [[1], [2]], what="replies", if_lost="the sweeper will retry")
    assert "could not queue the replies for [[1], [2]]; the sweeper will retry" in caplog.text


@pytest.mark.django_db
def test_a_batch_with_two_messages_of_one_conversation_answers_and_announces_each_once(
    shop_site: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CHATBOT_RESPONDER = "echo"
    monkeypatch.setattr("chatbot.replies.receivers.replies_dispatch", lambda waiting: None)
    visitor = Visitor.objects.create(site=shop_site)
    first, second = (
        message_receive(visitor=visitor, client_id=client_id, text=text).message
        for client_id, text in (("c1", "hello"), ("c2", "are you there?"))
    )
    announced: list[int] = []
    monkeypatch.setattr(
        events,
        "group_send",
        lambda group, event: (
            announced.append(event["frame"]["seq"])
            if event["type"] == "chat.message" and event["frame"]["sender"] == Sender.BOT
            else None
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):  # replies are announced once committed
        assert services.replies_generate(message_ids=[first.pk, second.pk]) == 2
    replies = list(Message.objects.filter(sender=Sender.BOT).order_by("seq"))
    assert [r.reply_to_id for r in replies] == [first.pk, second.pk]
    assert announced == [r.seq for r in replies]  # each reply announced once, none again
