"""Replies under worker faults, with every component real: uvicorn, Celery workers (prefork),
Redis as broker and channel layer, PostgreSQL.

- ten messages of one conversation are answered in order while other conversations proceed;
- an operator's takeover while a reply streams: nothing of the bot's reply shows after it;
- `kill -9` of the worker generating a reply: the reply is still delivered, exactly once, after
  the broker hands the task out again (visibility timeout plus restore interval, measured).

The sweeper is off in this stack so that the last case measures the broker's own recovery
(tests/faults/test_redis_restart.py covers the sweeper).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import websockets
from channels.db import database_sync_to_async as sync_to_async

from chatbot.conversations.models import Conversation, Message, Sender
from tests.integration.conftest import Client, is_bot_message, open_client
from tests.processes import Process, asgi_server, base_env, celery_worker, free_port, postgres_test_url

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORIGIN = "https://shop.example.com"
VISIBILITY_TIMEOUT_S = 8
RESTORE_INTERVAL_S = 1
QUESTIONS = [
    "How long does delivery take within the EU?",
    "How long does delivery take to the UK?",
    "How much does shipping cost?",
    "Do you offer free shipping?",
    "Do you offer express delivery?",
    "How is large furniture delivered?",
    "How can I track my order?",
    "What should I do if my item arrived damaged?",
    "I received the wrong item. What should I do?",
    "How long do I have to return an item?",
]


@dataclass
class Stack:
    http: str
    ws: str
    env: dict[str, str]
    server: Process
    workers: list[Process] = field(default_factory=list)


@pytest.fixture(scope="module")
def stack(django_db_setup: None, django_db_blocker: Any) -> Iterator[Stack]:
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()
    env = base_env(
        DATABASE_URL=postgres_test_url(),
        REDIS_URL=redis_url,
        CHATBOT_CHANNEL_PREFIX=f"test-{uuid.uuid4().hex[:8]}",
        CHATBOT_STREAM_DELAY_MS="25",
        CHATBOT_REPLY_SWEEP_INTERVAL_S="0",
        CHATBOT_REPLY_TIME_LIMIT_S="4",
        CHATBOT_REPLY_LOCK_TTL_S="3",
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT_S),
        CELERY_UNACKED_RESTORE_INTERVAL=str(RESTORE_INTERVAL_S),
    )
    workers = [celery_worker(env, concurrency=2)]
    port = free_port()
    server = asgi_server(env, port)
    built = Stack(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", env, server, workers)
    try:
        yield built
    finally:
        server.stop()
        for worker in built.workers:
            worker.stop()


async def open_console(stack: Stack, operator_user: Any) -> Client:
    from django.test import Client as HttpClient

    http = HttpClient()
    await sync_to_async(http.force_login)(operator_user)
    host = stack.http.removeprefix("http://")
    connection = await websockets.connect(
        f"{stack.ws}/ws/console/",
        origin=f"http://{host}",  # type: ignore[arg-type]
        additional_headers={"Cookie": f"sessionid={http.cookies['sessionid'].value}"},
        open_timeout=20,
    )
    hello = json.loads(await connection.recv())
    assert hello["type"] == "hello"
    return Client(connection, hello)


async def test_ten_messages_of_a_conversation_are_answered_in_order_while_others_proceed(
    stack: Stack, demo_site: Any
) -> None:
    busy = await open_client(stack.ws, origin=ORIGIN)
    for question in QUESTIONS:
        await busy.ask(question)
    others = [await open_client(stack.ws, origin=ORIGIN) for _ in range(2)]
    for other in others:
        await other.ask("Do you offer gift wrapping?")

    other_frames = await asyncio.gather(*(other.until(is_bot_message, timeout=90) for other in others))
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(120):
        while sum(1 for f in received if f["sender"] == "bot") < 10:
            frame = await busy.receive()
            if frame["type"] == "message":
                received.append(frame)
    for client in (busy, *others):
        await client.connection.close()

    conversation = received[0]["conversation"]
    bot_frames = [f for f in received if f["sender"] == "bot"]
    assert [f["reply_to"] for f in bot_frames] == list(range(1, 11))  # the customer's seqs 1..10, in order
    assert [f["seq"] for f in received] == list(range(1, 21))  # every message once, none skipped
    stored = await sync_to_async(list)(
        Message.objects.filter(conversation_id=conversation, sender=Sender.BOT)
        .order_by("seq")
        .values_list("reply_to__seq", "created_at")
    )
    assert [reply_to for reply_to, _ in stored] == list(range(1, 11))
    # The other conversations were answered while this one's replies were still being written.
    last_busy_reply = stored[-1][1]
    for frames in other_frames:
        answer = await sync_to_async(Message.objects.get)(conversation_id=frames[-1]["conversation"], sender="bot")
        assert answer.created_at < last_busy_reply


async def test_after_an_operator_takes_over_mid_stream_nothing_of_the_bot_reply_shows(
    stack: Stack, demo_site: Any
) -> None:
    from tests.console.conftest import make_operator

    operator = await sync_to_async(make_operator)("alex", sites=[demo_site])
    console = await open_console(stack, operator.user)
    widget = await open_client(stack.ws, origin=ORIGIN)
    await widget.ask("What should I do if my item arrived damaged?")
    conversation = (await widget.receive())["conversation"]  # the ack
    await console.send({"type": "open", "conversation": conversation, "after_seq": 0})
    await console.until(lambda f: f["type"] == "conversation_view")
    await widget.until(lambda f: f["type"] == "token")
    await console.until(lambda f: f["type"] == "token")  # the operator watches the reply stream

    await console.send({"type": "claim", "conversation": conversation})
    after_claim: list[dict[str, Any]] = []
    with pytest.raises(TimeoutError):
        while True:  # everything the widget gets in the next 3 s
            after_claim.append(await widget.receive(timeout=3))
    console_frames: list[dict[str, Any]] = []
    with pytest.raises(TimeoutError):
        while True:
            console_frames.append(await console.receive(timeout=0.5))
    await widget.connection.close()
    await console.connection.close()

    kinds = [f["type"] for f in after_claim]
    assert "status" in kinds
    shown_after = after_claim[kinds.index("status") :]
    assert [f for f in shown_after if f["type"] == "token"] == []
    assert not [f for f in after_claim if is_bot_message(f)]
    assert any(f["type"] == "message" and f["text"] == "Alex joined the chat." for f in after_claim)
    console_status = next(i for i, f in enumerate(console_frames) if f["type"] == "status")
    assert [f for f in console_frames[console_status:] if f["type"] == "token"] == []
    assert not await sync_to_async(Message.objects.filter(conversation_id=conversation, sender="bot").exists)()
    # The worker itself stopped generating (it checks the status while it streams).
    for _ in range(50):
        if "stopped streaming the reply" in stack.workers[0].output():
            break
        await asyncio.sleep(0.2)
    assert "stopped streaming the reply" in stack.workers[0].output()


async def test_a_reply_whose_worker_is_killed_mid_stream_is_delivered_once_by_another_worker(
    stack: Stack, demo_site: Any
) -> None:
    standby = celery_worker(stack.env)
    stack.workers.append(standby)
    received_before = [w.output().count("replies.reply_generate[") for w in stack.workers]

    widget = await open_client(stack.ws, origin=ORIGIN)
    await widget.ask("How can I track my order?")
    frames = await widget.until(lambda f: f["type"] == "token")
    busy = next(
        w
        for w, n in zip(stack.workers, received_before, strict=True)
        if w.output().count("replies.reply_generate[") > n
    )
    survivor = next(w for w in stack.workers if w is not busy and w.alive())
    assert busy.popen is not None
    os.killpg(busy.popen.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    busy.popen.wait(10)
    assert not await sync_to_async(Message.objects.filter(sender="bot").exists)()  # it died before storing

    frames += await widget.until(is_bot_message, timeout=VISIBILITY_TIMEOUT_S + 60)
    recovered_s = time.monotonic() - killed_at
    assert await widget.nothing_within(3.0)  # and never again
    await widget.connection.close()

    print(
        f"\nkill -9 mid-reply: reply delivered {recovered_s:.1f} s after the kill "
        f"(visibility timeout {VISIBILITY_TIMEOUT_S} s, restore interval {RESTORE_INTERVAL_S} s)"
    )
    assert recovered_s <= VISIBILITY_TIMEOUT_S + 2 * RESTORE_INTERVAL_S + 4 + 15  # + the reply's own time limit + slack
    messages = [f for f in frames if f["type"] == "message"]
    assert [(m["seq"], m["sender"]) for m in messages] == [(1, "customer"), (2, "bot")]
    assert {f.get("attempt") for f in frames if f["type"] == "token"} == {1, 2}  # the stream started over
    conversation = messages[0]["conversation"]
    replies = await sync_to_async(list)(Message.objects.filter(conversation_id=conversation, sender=Sender.BOT))
    assert len(replies) == 1 and replies[0].reply_to_id is not None
    assert "replies.reply_generate[" in survivor.output()
    assert await sync_to_async(Conversation.objects.filter(pk=conversation, status="bot").exists)()
