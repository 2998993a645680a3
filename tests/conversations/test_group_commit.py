"""The group commit (chatbot.conversations.ingest): many connections' messages stored in one
transaction, with the guarantees of `message_receive`: committed before the ack, one row per
client_id, gapless seqs in arrival order, and the same events and signals afterwards."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from concurrent.futures import Future
from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async
from django.db import close_old_connections, connection

from chatbot.channel_layers import SkippingRedisChannelLayer
from chatbot.conversations import ingest, services
from chatbot.conversations.models import Conversation, ConversationStatus, Message, Sender, Visitor
from chatbot.conversations.signals import customer_messages_stored, message_stored
from intents.types import Answer

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
ANSWER = Answer(text="Two to four days.", intent="faq", confidence=0.8)


@pytest.fixture(autouse=True)
def no_reply_dispatch(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    dispatched: list[int] = []
    monkeypatch.setattr(
        "chatbot.replies.receivers.replies_dispatch", lambda waiting: dispatched.extend(m for m, _ in waiting)
    )
    monkeypatch.setattr("chatbot.sentiment.receivers.sentiment_dispatch", lambda message_ids: None)
    return dispatched


def started(site: Any, text: str = "hello") -> Conversation:
    """A visitor's conversation, started by a first message on the one-by-one path."""
    visitor = Visitor.objects.create(site=site)
    return services.message_receive(visitor=visitor, client_id=f"first-{visitor.pk}", text=text).message.conversation


def incoming(conversation: Conversation, client_id: str, text: str = "and the price?", **overrides: Any) -> Any:
    values = {
        "conversation_id": conversation.pk,
        "visitor_id": conversation.visitor_id,
        "client_id": client_id,
        "text": text,
        "conversation_language": "en",
        "site_language": "en",
        "language": "en",
    }
    return ingest.Incoming(**{**values, **overrides})


def starting(visitor: Visitor, client_id: str, text: str = "hello", **overrides: Any) -> Any:
    values = {
        "conversation_id": None,
        "visitor_id": visitor.pk,
        "client_id": client_id,
        "text": text,
        "conversation_language": "en",
        "site_language": "en",
        "language": "en",
        "site_id": visitor.site_id,
        "visitor_public_id": str(visitor.public_id),
        "page_url": "https://shop.example.com/lamps",
        "user_agent": "Firefox",
    }
    return ingest.Incoming(**{**values, **overrides})


def run_in_threads(*calls: Any) -> None:
    """Run each call (a function and its arguments) on its own thread at once, each with its own
    database connection; fail with what any of them raised."""
    errors: list[BaseException] = []

    def run(function: Any, *args: Any) -> None:
        try:
            function(*args)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def seqs(conversation: Conversation) -> list[int]:
    return list(Message.objects.filter(conversation=conversation).order_by("seq").values_list("seq", flat=True))


def test_the_group_commit_is_on_with_postgresql() -> None:
    # The suite runs on PostgreSQL (`make test`), so the fast path is the one under test here.
    assert connection.vendor == "postgresql"
    assert ingest.group_commit_enabled()


def test_a_batch_hands_out_each_conversations_next_seqs_in_arrival_order(shop_site: Any) -> None:
    first, second, third = started(shop_site), started(shop_site), started(shop_site)
    batch = [
        incoming(first, "a"),
        incoming(second, "b"),
        incoming(first, "c", text="and in blue?"),
        incoming(third, "d"),
        incoming(first, "e", text="thanks"),
    ]
    results = ingest.messages_store(batch)
    assert [r.message.client_id for r in results if r] == ["a", "b", "c", "d", "e"]
    assert [(r.message.conversation_id, r.message.seq) for r in results if r] == [
        (first.pk, 2),
        (second.pk, 2),
        (first.pk, 3),
        (third.pk, 2),
        (first.pk, 4),
    ]
    assert seqs(first) == [1, 2, 3, 4] and seqs(second) == [1, 2] and seqs(third) == [1, 2]
    stored = Message.objects.get(conversation=first, client_id="c")
    assert (stored.text, stored.sender, stored.language, stored.seq) == ("and in blue?", Sender.CUSTOMER, "en", 3)
    assert stored.reply_pending and stored.reply_dispatched_at is not None
    assert stored.sources == [] and stored.timings == {} and stored.reply_attempts == 0
    first.refresh_from_db()
    assert first.last_seq == 4


def test_what_the_batch_returns_is_what_the_database_holds(shop_site: Any) -> None:
    conversation = started(shop_site)
    (received,) = ingest.messages_store([incoming(conversation, "x", text="Do you ship to Norway?")])
    assert received is not None and received.created and not received.conversation_started
    stored = Message.objects.get(pk=received.message.pk)
    for field in ("conversation_id", "seq", "sender", "text", "language", "client_id", "reply_pending"):
        assert getattr(received.message, field) == getattr(stored, field), field
    # The announce needs the site without a query: the statement read it.
    assert received.message.conversation.site_id == shop_site.pk


def test_a_client_id_already_stored_is_handed_back_and_stored_once(shop_site: Any) -> None:
    conversation = started(shop_site)
    (once,) = ingest.messages_store([incoming(conversation, "same")])
    assert once is not None
    assert ingest.messages_store([incoming(conversation, "same")]) == [None]
    # In one batch, too: the second row sees the first (they go in separate statements).
    twice = ingest.messages_store([incoming(conversation, "new"), incoming(conversation, "new")])
    assert twice[0] is not None and twice[1] is None
    assert Message.objects.filter(conversation=conversation, client_id__in=["same", "new"]).count() == 2
    assert seqs(conversation) == [1, 2, 3]
    # The one-by-one path then finds the stored message.
    visitor = Visitor.objects.get(pk=conversation.visitor_id)
    again = services.message_receive(visitor=visitor, client_id="same", text="and the price?")
    assert not again.created and again.message.pk == once.message.pk


def test_a_closed_conversation_or_another_visitors_is_handed_back(shop_site: Any) -> None:
    closed, other = started(shop_site), started(shop_site)
    Conversation.objects.filter(pk=closed.pk).update(status=ConversationStatus.CLOSED)
    stranger = Visitor.objects.create(site=shop_site)
    results = ingest.messages_store([incoming(closed, "a"), incoming(other, "b", visitor_id=stranger.pk)])
    assert results == [None, None]
    assert seqs(closed) == [1] and seqs(other) == [1]


def test_a_message_detected_against_a_stale_conversation_language_is_handed_back(shop_site: Any) -> None:
    conversation = started(shop_site, text="你好，我想退货")
    assert Conversation.objects.get(pk=conversation.pk).language == "zh-hans"
    # The connection still believes the conversation is in English: "ok" would be read as English.
    stale = incoming(conversation, "a", text="ok", conversation_language="en", language="en")
    assert ingest.messages_store([stale]) == [None]
    current = incoming(conversation, "b", text="ok", conversation_language="zh-hans", language="zh-hans")
    (stored,) = ingest.messages_store([current])
    assert stored is not None and stored.message.language == "zh-hans"


def test_a_message_that_changes_the_language_changes_the_conversations(shop_site: Any) -> None:
    conversation = started(shop_site)
    ingest.messages_store([incoming(conversation, "a", text="运费多少钱？", language="zh-hans")])
    assert Conversation.objects.get(pk=conversation.pk).language == "zh-hans"


def test_a_conversation_waiting_for_a_person_gets_the_message_without_a_pending_reply(shop_site: Any) -> None:
    conversation = started(shop_site)
    Conversation.objects.filter(pk=conversation.pk).update(status=ConversationStatus.WAITING_HUMAN)
    (received,) = ingest.messages_store([incoming(conversation, "a")])
    assert received is not None
    stored = Message.objects.get(pk=received.message.pk)
    assert not stored.reply_pending and stored.reply_dispatched_at is None


def test_the_stored_messages_are_announced_once_each_after_their_commit(
    shop_site: Any, no_reply_dispatch: list[int]
) -> None:
    first, second = started(shop_site), started(shop_site)
    no_reply_dispatch.clear()
    heard: list[list[int]] = []
    announced: list[int] = []

    def on_batch(sender: Any, *, messages: list[Message], **_: Any) -> None:
        # Committed: another connection reads them.
        close_old_connections()
        assert Message.objects.filter(pk__in=[m.pk for m in messages]).count() == len(messages)
        heard.append([m.pk for m in messages])

    def on_message(sender: Any, *, message: Message, **_: Any) -> None:
        announced.append(message.pk)

    customer_messages_stored.connect(on_batch, dispatch_uid="test-batch")
    message_stored.connect(on_message, dispatch_uid="test-message")
    try:
        writer = ingest.GroupCommit()
        futures: list[Future[Any]] = [Future(), Future(), Future()]
        items = [incoming(first, "a"), incoming(second, "b"), incoming(first, "a")]
        writer._commit(list(zip(items, futures, strict=True)))
    finally:
        customer_messages_stored.disconnect(dispatch_uid="test-batch")
        message_stored.disconnect(dispatch_uid="test-message")
    results = [f.result(timeout=0) for f in futures]
    assert results[2] is None  # the resent client_id: the consumer takes the one-by-one path
    stored = [results[0].message.pk, results[1].message.pk]
    assert heard == [stored]
    assert announced == stored
    assert no_reply_dispatch == stored


def test_a_failed_batch_sends_every_message_the_one_by_one_way(shop_site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    conversation = started(shop_site)

    def broken(batch: list[Any]) -> list[Any]:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ingest, "messages_store", broken)
    writer = ingest.GroupCommit()
    futures: list[Future[Any]] = [Future(), Future()]
    writer._commit(list(zip([incoming(conversation, "a"), incoming(conversation, "b")], futures, strict=True)))
    assert [f.result(timeout=0) for f in futures] == [None, None]
    assert seqs(conversation) == [1]


def test_concurrent_connections_bot_replies_and_resends_leave_no_gap_and_no_duplicate(shop_site: Any) -> None:
    conversations = [started(shop_site) for _ in range(4)]

    def customer(index: int) -> None:
        conversation = conversations[index % len(conversations)]
        visitor = Visitor.objects.get(pk=conversation.visitor_id)
        for n in range(25):
            client_id = f"t{index}-{n // 2}"  # every message is sent twice
            received = ingest.message_submit(incoming(conversation, client_id)).result(timeout=30)
            if received is None:
                received = services.message_receive(visitor=visitor, client_id=client_id, text="and the price?")
            assert received.message.client_id == client_id

    def bot(conversation: Conversation) -> None:
        for _ in range(10):
            waiting = (
                Message.objects.filter(conversation=conversation, sender=Sender.CUSTOMER, reply__isnull=True)
                .order_by("seq")
                .first()
            )
            if waiting is not None:
                services.bot_reply_store(customer_message=waiting, answer=ANSWER, timings={})

    run_in_threads(*[(customer, i) for i in range(8)], *[(bot, c) for c in conversations])
    for conversation in conversations:
        numbers = seqs(conversation)
        assert numbers == list(range(1, len(numbers) + 1)), conversation.pk
        conversation.refresh_from_db()
        assert conversation.last_seq == len(numbers)
    customer_ids = Message.objects.filter(sender=Sender.CUSTOMER, client_id__startswith="t")
    assert customer_ids.count() == 8 * 13  # 25 sends of 13 distinct ids per thread
    assert customer_ids.values("client_id").distinct().count() == 8 * 13


async def test_a_socket_stores_its_first_message_and_the_next_ones_with_the_others(
    shop_site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from channels.db import database_sync_to_async

    from tests.support.websockets import connect

    batches: list[list[str]] = []
    store = ingest.messages_store

    def spy(batch: list[Any]) -> list[Any]:
        batches.append([item.client_id for item in batch])
        return store(batch)

    monkeypatch.setattr(ingest, "messages_store", spy)
    connected, widget = await connect(site="shop")
    assert connected
    acks = []
    for client_id, text in (("m1", "hello"), ("m2", "do you ship to Norway?"), ("m3", "你们发货到挪威吗？")):
        await widget.ask(text, client_id=client_id)
        frames = await widget.until(lambda f: f["type"] == "ack")
        acks.append((frames[-1]["client_id"], frames[-1]["seq"]))
    # A resend of a stored message is acked with its seq again and stored once.
    await widget.ask("do you ship to Norway?", client_id="m2")
    frames = await widget.until(lambda f: f["type"] == "ack")
    acks.append((frames[-1]["client_id"], frames[-1]["seq"]))
    await widget.close()
    assert acks == [("m1", 1), ("m2", 2), ("m3", 3), ("m2", 2)]
    assert batches == [["m1"], ["m2"], ["m3"], ["m2"]]
    stored = await database_sync_to_async(
        lambda: list(Message.objects.order_by("seq").values_list("client_id", "seq", "language"))
    )()
    assert stored == [("m1", 1, "en"), ("m2", 2, "en"), ("m3", 3, "zh-hans")]


def test_first_messages_start_one_conversation_per_visitor_in_the_batch(shop_site: Any) -> None:
    ada, bea, cy = (Visitor.objects.create(site=shop_site) for _ in range(3))
    busy = started(shop_site)  # this visitor has an open conversation its connection does not follow
    owner = Visitor.objects.get(pk=busy.visitor_id)
    results = ingest.messages_store(
        [starting(ada, "a1"), starting(bea, "b1"), starting(ada, "a2", text="second tab"), starting(owner, "o1")]
    )
    a1, b1, a2, o1 = results
    assert o1 is None  # the one-by-one path joins the open conversation
    assert a1 is not None and b1 is not None and a2 is not None
    assert a1.conversation_started and b1.conversation_started
    assert not a2.conversation_started
    assert a1.message.conversation_id == a2.message.conversation_id
    assert (a1.message.seq, a2.message.seq, b1.message.seq) == (1, 2, 1)
    conversation = Conversation.objects.get(visitor=ada)
    assert (conversation.page_url, conversation.user_agent, conversation.status) == (
        "https://shop.example.com/lamps",
        "Firefox",
        ConversationStatus.BOT,
    )
    assert conversation.last_seq == 2 and conversation.site_id == shop_site.pk
    assert Conversation.objects.filter(visitor=cy).count() == 0
    assert Conversation.objects.filter(visitor=owner).count() == 1


def test_a_message_after_a_closed_conversation_starts_a_new_one(shop_site: Any) -> None:
    closed = started(shop_site)
    Conversation.objects.filter(pk=closed.pk).update(status=ConversationStatus.CLOSED)
    visitor = Visitor.objects.get(pk=closed.visitor_id)
    (stored,) = ingest.messages_store([starting(visitor, "again")])
    assert stored is not None and stored.conversation_started
    assert stored.message.conversation_id != closed.pk and stored.message.seq == 1


def test_a_started_conversation_is_announced_before_its_message(
    shop_site: Any, no_reply_dispatch: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot.conversations import events
    from chatbot.conversations.signals import conversation_created

    visitor = Visitor.objects.create(site=shop_site)
    order: list[str] = []
    monkeypatch.setattr(
        events,
        "publish_conversation_started",
        lambda *, conversation, visitor_public_id, origin="": order.append(
            f"started {conversation.pk} {visitor_public_id}"
        ),
    )
    monkeypatch.setattr(
        events, "publish_message", lambda message, site_id=None, origin="": order.append(f"message {message.seq}")
    )

    def created(sender: Any, *, conversation: Conversation, **_: Any) -> None:
        order.append(f"created {conversation.pk}")

    conversation_created.connect(created, dispatch_uid="test-created")
    try:
        future: Future[Any] = Future()
        ingest.GroupCommit()._commit([(starting(visitor, "first"), future)])
    finally:
        conversation_created.disconnect(dispatch_uid="test-created")
    received = future.result(timeout=0)
    assert received.conversation_started
    pk = received.message.conversation_id
    assert order == [f"started {pk} {visitor.public_id}", f"created {pk}", "message 1"]
    assert no_reply_dispatch == [received.message.pk]


def test_the_socket_that_started_a_conversation_is_joined_to_it_before_its_ack_and_its_announcement(
    shop_site: Any, no_reply_dispatch: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot.conversations import events

    visitors = [Visitor.objects.create(site=shop_site) for _ in range(2)]
    follower = started(shop_site)
    no_reply_dispatch.clear()
    order: list[str] = []

    def join(memberships: list[tuple[int, str]]) -> bool:
        order.append(f"joined {memberships}")
        return True

    monkeypatch.setattr(events, "sockets_join", join)
    monkeypatch.setattr(
        events, "publish_message", lambda message, site_id=None, origin="": order.append(f"message {message.pk}")
    )
    futures: list[Future[Any]] = [Future() for _ in range(4)]
    for future in futures:
        future.add_done_callback(lambda done: order.append("acked"))
    items = [
        starting(visitors[0], "s1", channel_name="specific.one"),
        incoming(follower, "f1", channel_name="specific.follower"),
        starting(visitors[1], "s2", channel_name="specific.two"),
        starting(Visitor.objects.create(site=shop_site), "s3"),  # not sent by a socket (no channel)
    ]
    ingest.GroupCommit()._commit(list(zip(items, futures, strict=True)))
    results = [future.result(timeout=0) for future in futures]
    first, second = results[0].message.conversation_id, results[2].message.conversation_id
    # One round trip for both sockets, before any ack; the replies are queued after the acks.
    assert order[:5] == [f"joined {[(first, 'specific.one'), (second, 'specific.two')]}", *["acked"] * 4]
    assert [r.origin_joined for r in results] == [True, False, True, False]
    assert no_reply_dispatch == [r.message.pk for r in results]


def test_where_the_layer_cannot_join_from_the_writer_the_socket_joins_itself(shop_site: Any) -> None:
    visitor = Visitor.objects.create(site=shop_site)
    future: Future[Any] = Future()
    ingest.GroupCommit()._commit([(starting(visitor, "s1", channel_name="specific.one"), future)])
    received = future.result(timeout=0)
    assert received.conversation_started and not received.origin_joined  # the in-memory layer


async def test_a_socket_joined_by_the_writer_neither_joins_again_nor_looks_for_a_reply_it_missed(
    shop_site: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from chatbot.conversations import consumers
    from tests.support.websockets import connect

    prefix = f"test-join-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chatbot.channel_layers.SkippingRedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": prefix},
        }
    }
    looked: list[int] = []

    async def stored_after(conversation_id: int, after_seq: int) -> bool:
        looked.append(conversation_id)
        return False

    monkeypatch.setattr(consumers, "_stored_after", stored_after)
    adds: list[str] = []
    group_add = SkippingRedisChannelLayer.group_add

    async def counted_add(self: Any, group: str, channel: str) -> None:
        adds.append(group)
        await group_add(self, group, channel)

    monkeypatch.setattr(SkippingRedisChannelLayer, "group_add", counted_add)
    connected, widget = await connect(site="shop")
    assert connected
    try:
        await widget.ask("hello", client_id="h1")
        ack = (await widget.until(lambda f: f["type"] == "ack"))[-1]
        first = await database_sync_to_async(Message.objects.get)(conversation_id=ack["conversation"], seq=1)
        # A reply published right after the ack reaches the socket through the group it was put in.
        await database_sync_to_async(services.bot_reply_store)(customer_message=first, answer=ANSWER, timings={})
        frames = await widget.until(lambda f: f["type"] == "message" and f["sender"] == "bot", timeout=10)
    finally:
        await widget.close()
        keys = redis.Redis.from_url(REDIS_URL)
        for key in keys.scan_iter(f"{prefix}*"):
            keys.delete(key)
    assert frames[-1]["text"] == ANSWER.text
    assert f"conversation.{ack['conversation']}" not in adds  # the writer had added it
    assert looked == []


def test_tabs_starting_at_once_on_both_paths_share_one_conversation(shop_site: Any) -> None:
    visitors = [Visitor.objects.create(site=shop_site) for _ in range(5)]

    def tab(visitor: Visitor, n: int) -> None:
        client_id = f"v{visitor.pk}-{n}"
        # Odd tabs go through the group commit, even ones through message_receive.
        received = ingest.message_submit(starting(visitor, client_id)).result(timeout=30) if n % 2 else None
        if received is None:
            services.message_receive(visitor=visitor, client_id=client_id, text="hello")

    run_in_threads(*[(tab, v, n) for v in visitors for n in range(4)])
    for visitor in visitors:
        (conversation,) = Conversation.objects.filter(visitor=visitor)
        assert seqs(conversation) == [1, 2, 3, 4]


async def test_a_reply_stored_before_the_socket_joined_its_new_conversation_still_reaches_it(
    shop_site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quick reply can be published before the socket that started the conversation joined its
    group: nobody got that event, so the socket reads what was stored once it has joined."""
    from channels.db import database_sync_to_async

    from chatbot.conversations.consumers import ChatConsumer
    from tests.support.websockets import connect

    join = ChatConsumer._join

    async def reply_first(self: ChatConsumer, conversation_id: int, **kwargs: Any) -> None:
        first = await database_sync_to_async(Message.objects.get)(conversation_id=conversation_id, seq=1)
        await database_sync_to_async(services.bot_reply_store)(customer_message=first, answer=ANSWER, timings={})
        await join(self, conversation_id, **kwargs)

    monkeypatch.setattr(ChatConsumer, "_join", reply_first)
    connected, widget = await connect(site="shop")
    assert connected
    await widget.ask("how long does delivery take?", client_id="q1")
    frames = await widget.until(lambda f: f["type"] == "message" and f["sender"] == "bot", timeout=10)
    await widget.close()
    assert [f["seq"] for f in frames if f["type"] == "message"] == [1, 2]
    assert frames[-1]["text"] == ANSWER.text


async def test_a_socket_that_starts_a_conversation_reads_nothing_back_when_nothing_came_before_it_joined(
    shop_site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot.conversations import consumers
    from tests.support.websockets import connect

    reads: list[tuple[int, int]] = []
    frames_after = consumers._frames_after

    async def spy(conversation_id: int, after_seq: int, up_to_seq: int | None = None) -> list[Any]:
        reads.append((conversation_id, after_seq))
        return await frames_after(conversation_id, after_seq, up_to_seq)

    monkeypatch.setattr(consumers, "_frames_after", spy)
    connected, widget = await connect(site="shop")
    assert connected
    await widget.ask("hello", client_id="h1")
    frames = await widget.until(lambda f: f["type"] == "message")
    await widget.close()
    assert frames[-1]["seq"] == 1 and frames[-1]["sender"] == "customer"
    assert reads == []


def test_whether_a_conversation_holds_messages_after_a_seq_is_one_lookup(
    shop_site: Any, django_assert_num_queries: Any
) -> None:
    from chatbot.conversations.selectors import message_stored_after

    conversation = started(shop_site)
    with django_assert_num_queries(2):
        assert message_stored_after(conversation_id=conversation.pk, after_seq=0)
        assert not message_stored_after(conversation_id=conversation.pk, after_seq=1)


async def test_a_socket_is_not_sent_back_the_message_it_stored_nor_the_conversation_it_started(
    shop_site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot.channel_layers import SKIP_CHANNEL
    from chatbot.conversations import events
    from tests.support.websockets import connect

    sent: list[tuple[str, dict[str, Any]]] = []
    both_published = threading.Event()
    group_send = events.group_send

    def spy(group: str, event: dict[str, Any]) -> None:
        sent.append((group, event))
        group_send(group, event)
        if [e["type"] for _, e in sent].count("chat.message") >= 2:
            both_published.set()

    monkeypatch.setattr(events, "group_send", spy)
    connected, widget = await connect(site="shop")
    assert connected
    await widget.ask("hello", client_id="s1")
    await widget.until(lambda f: f["type"] == "message")
    await widget.ask("and the price?", client_id="s2")
    await widget.until(lambda f: f["type"] == "message")
    # The socket's own frame can come before the batch that stored the message publishes it to the
    # conversation's group (under load, in CI): wait for the publishing, not for a race.
    assert await asyncio.to_thread(both_published.wait, 10)
    await widget.close()
    by_type = {event["type"]: event for _, event in sent}
    assert [event["type"] for _, event in sent].count("chat.message") == 2
    skipped = {event.get(SKIP_CHANNEL) for _, event in sent if event["type"] in ("chat.message", "chat.conversation")}
    assert len(skipped) == 1 and skipped != {None} and skipped != {""}
    assert "chat.conversation" in by_type
