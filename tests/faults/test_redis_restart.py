"""Redis killed (`kill -9`) and restarted empty during traffic, with every component real: a Redis
server of the test's own, uvicorn, a Celery worker, PostgreSQL.

Redis is broker and channel layer at once: while it is gone no task can be queued and no event
published, and when it comes back it has forgotten every queued task and group. Nothing that was
stored may be lost: the customer's messages are in PostgreSQL, the sweeper queues the replies whose
tasks were lost, and widgets and consoles reconnect and resume from the seq they last saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import websockets
from channels.db import database_sync_to_async as sync_to_async

from chatbot.conversations.models import Message, Sender
from tests.processes import Process, asgi_server, base_env, celery_worker, free_port, postgres_test_url
from tests.support.widget_client import WidgetClient

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORIGIN = "https://shop.example.com"
SWEEP_AFTER_S = 3
# The server .ci/services runs on 6379; this test runs a second one of its own, to kill.
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@dataclass
class Stack:
    http: str
    ws: str
    redis_port: int
    redis: Process
    server: Process
    worker: Process

    def redis_start(self) -> None:
        self.redis = redis_server(self.redis_port)


def redis_server(port: int) -> Process:
    process = Process(
        "redis-server",
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        {"PATH": os.environ.get("PATH", "")},
    ).start()
    client = redis.Redis(port=port, socket_connect_timeout=1)
    for _ in range(100):
        try:
            if client.ping():
                return process
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not start:\n{process.output()}")


@pytest.fixture(scope="module")
def stack(django_db_setup: None, django_db_blocker: Any) -> Iterator[Stack]:
    redis_port = free_port()
    own_redis = redis_server(redis_port)
    env = base_env(
        DATABASE_URL=postgres_test_url(),
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        CHATBOT_CHANNEL_PREFIX=f"test-{uuid.uuid4().hex[:8]}",
        CHATBOT_STREAM_DELAY_MS="30",
        CHATBOT_REPLY_SWEEP_INTERVAL_S="1",
        CHATBOT_REPLY_SWEEP_AFTER_S=str(SWEEP_AFTER_S),
    )
    worker = celery_worker(env)
    web_port = free_port()
    server = asgi_server(env, web_port)
    built = Stack(f"http://127.0.0.1:{web_port}", f"ws://127.0.0.1:{web_port}", redis_port, own_redis, server, worker)
    try:
        yield built
    finally:
        server.stop()
        worker.stop()
        built.redis.stop()


class Console:
    """An operator's console socket that, like inbox.js, reconnects and reopens its conversation."""

    def __init__(self, stack: Stack, cookie: str) -> None:
        self.stack, self.cookie = stack, cookie
        self.connection: Any = None
        self.frames: list[dict[str, Any]] = []

    async def connect(self) -> dict[str, Any]:
        host = self.stack.http.removeprefix("http://")
        self.connection = await websockets.connect(
            f"{self.stack.ws}/ws/console/",
            origin=f"http://{host}",  # type: ignore[arg-type]
            additional_headers={"Cookie": self.cookie},
            open_timeout=10,
        )
        hello = json.loads(await self.connection.recv())
        assert hello["type"] == "hello"
        return dict(json.loads(await self.connection.recv()))  # the inbox

    async def open(self, conversation: int, after_seq: int) -> dict[str, Any]:
        await self.connection.send(json.dumps({"type": "open", "conversation": conversation, "after_seq": after_seq}))
        while True:
            frame = json.loads(await asyncio.wait_for(self.connection.recv(), 10))
            if frame["type"] == "conversation_view":
                return dict(frame)


async def test_nothing_stored_is_lost_when_redis_dies_and_comes_back_empty(stack: Stack, demo_site: Any) -> None:
    from django.test import Client as HttpClient

    from tests.console.conftest import make_operator

    operator = await sync_to_async(make_operator)("alex", sites=[demo_site])
    http = HttpClient()
    await sync_to_async(http.force_login)(operator.user)
    console = Console(stack, f"sessionid={http.cookies['sessionid'].value}")
    await console.connect()

    widgets = [await WidgetClient(stack.ws, ORIGIN, backoff_scale=0.2, name=f"w{i}").start() for i in range(5)]
    writer, quiet = widgets[0], widgets[1:]
    for widget in widgets:
        await widget.send_message("How much does shipping cost?")
    for widget in widgets:
        await widget.wait_for(lambda w: len(w.messages) == 2, 60, "the first answer")
    watched = quiet[0].conversation
    assert watched is not None
    await console.open(watched, after_seq=0)

    # Five messages stored at once: the one worker answers one of them at a time, so the other
    # tasks still wait in Redis when it dies, and die with it. Four of these customers then wait
    # quietly: no later message of theirs sets their conversation going again.
    second = [await widget.send_message("Do you offer express delivery?") for widget in widgets]
    await asyncio.gather(
        *(w.wait_for(lambda w, c=c: w.acked(c), 20, "the ack") for w, c in zip(widgets, second, strict=True))
    )
    stack.redis.stop(signal.SIGKILL)
    unanswered_at_kill = await sync_to_async(Message.objects.filter(reply_pending=True).count)()
    # While Redis is gone one customer keeps writing, into the widget's outbox.
    await asyncio.sleep(1)
    await writer.send_message("How can I track my order?")
    await asyncio.sleep(2)
    stack.redis_start()  # empty: no queued task, no group, no queue binding survived
    restarted_at = time.monotonic()

    for widget in widgets:
        await widget.wait_for(
            lambda w: all(w.acked(c) for c in w.sent) and len(w.messages) == 2 * len(w.sent),
            SWEEP_AFTER_S + 90,
            "every message stored and answered",
        )
    recovered_s = time.monotonic() - restarted_at
    print(f"\nredis kill -9 and restart: every message answered {recovered_s:.1f} s after Redis was back")
    # Their sockets died with the channel layer: each widget reconnected and resumed. The messages
    # whose tasks were lost with Redis were queued again by the sweeper.
    assert all(w.reconnects for w in widgets)
    assert unanswered_at_kill >= 1
    assert "queuing it again" in stack.server.output()

    # The console's socket died with the channel layer too (frames sent before it are drained);
    # like inbox.js it reconnects, gets the inbox again and catches up on the open conversation.
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(5):
            while True:
                await console.connection.recv()
    inbox = await console.connect()
    assert {row["id"] for row in inbox["conversations"]} >= {w.conversation for w in widgets}
    view = await console.open(watched, after_seq=2)
    assert [m["seq"] for m in view["messages"]] == [3, 4]

    for widget in widgets:
        await widget.close()
        assert widget.duplicates == [] and widget.gaps() == [] and widget.out_of_order == []
        assert widget.seqs() == sorted(set(widget.seqs())) == list(range(1, 2 * len(widget.sent) + 1))
        stored = await sync_to_async(list)(
            Message.objects.filter(conversation_id=widget.conversation)
            .order_by("seq")
            .values_list("sender", "client_id", "reply_to__seq")
        )
        customer = [
            (client_id, seq) for seq, (sender, client_id, _) in enumerate(stored, 1) if sender == Sender.CUSTOMER
        ]
        assert [client_id for client_id, _ in customer] == list(widget.sent)  # each stored once, in order
        assert sorted(reply_to for sender, _, reply_to in stored if sender == Sender.BOT) == [s for _, s in customer]
    assert not await sync_to_async(Message.objects.filter(reply_pending=True).exists)()
