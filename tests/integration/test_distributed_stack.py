"""The distributed setup with every component real: a uvicorn ASGI process, a Celery worker
process on the `inference` queue, Redis as broker and channel layer, PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import websockets
from channels.db import database_sync_to_async as sync_to_async

from chatbot.conversations.models import Message, Sender
from tests.integration.conftest import is_bot_message, open_client
from tests.processes import Process, asgi_server, base_env, celery_worker, free_port, postgres_test_url

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORIGIN = "https://shop.example.com"


@dataclass
class Stack:
    http: str
    ws: str
    worker: Process
    server: Process


@pytest.fixture(scope="module")
def stack(django_db_setup: None, django_db_blocker: Any) -> Iterator[Stack]:
    database_url = postgres_test_url()
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()
    env = base_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CHATBOT_CHANNEL_PREFIX=f"test-{uuid.uuid4().hex[:8]}",
        # Slow the stream down so a test can drop the connection while a reply is mid-stream.
        CHATBOT_STREAM_DELAY_MS="40",
    )
    worker = celery_worker(env)
    port = free_port()
    server = asgi_server(env, port)
    try:
        yield Stack(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", worker, server)
    finally:
        server.stop()
        worker.stop()


def test_the_web_process_hands_replies_to_celery(stack: Stack) -> None:
    with urllib.request.urlopen(f"{stack.http}/healthz") as response:
        assert json.load(response) == {"ok": True, "dispatch": "celery"}


async def test_a_paraphrased_question_is_answered_by_the_worker_streamed_and_cited(
    stack: Stack, demo_site: Any
) -> None:
    client = await open_client(stack.ws, origin=ORIGIN)
    client_id = await client.ask("the lamp I bought came broken in the box")
    frames = await client.until(is_bot_message)
    await client.connection.close()

    assert frames[0] == {"type": "ack", "client_id": client_id, "seq": 1, "conversation": frames[0]["conversation"]}
    tokens = [f["delta"] for f in frames if f["type"] == "token"]
    answer = frames[-1]
    assert len(tokens) > 5 and "".join(tokens) == answer["text"]
    assert answer["sources"][0]["question"] == "What should I do if my item arrived damaged?"
    stored = await sync_to_async(Message.objects.get)(seq=answer["seq"], conversation_id=answer["conversation"])
    assert stored.sender == Sender.BOT and stored.timings["total"] > 0
    assert "replies.reply_generate" in stack.worker.output()


async def test_messages_stored_together_are_answered_by_batched_tasks_each_once(stack: Stack, demo_site: Any) -> None:
    clients = [await open_client(stack.ws, origin=ORIGIN) for _ in range(12)]
    # Sent at once, so the group commit stores several in one transaction and queues their
    # replies in a few `replies_generate` tasks instead of one task each.
    await asyncio.gather(*(client.ask("How much is postage?") for client in clients))
    answers = await asyncio.gather(*(client.until(is_bot_message) for client in clients))
    for client in clients:
        await client.connection.close()
    for frames in answers:
        assert frames[0]["type"] == "ack" and frames[-1]["sources"][0]["question"] == "How much does shipping cost?"
    replies = await sync_to_async(list)(Message.objects.filter(sender=Sender.BOT).values_list("reply_to_id", flat=True))
    assert len(replies) == len(set(replies)) == 12
    assert "replies.replies_generate" in stack.worker.output()


async def test_reconnecting_mid_stream_and_resuming_loses_and_duplicates_nothing(stack: Stack, demo_site: Any) -> None:
    client = await open_client(stack.ws, origin=ORIGIN)
    await client.ask("How much is postage?")
    first = await client.until(lambda f: f["type"] == "token")
    ack = first[0]
    await client.connection.close()
    # The reply was still being generated when the connection dropped.
    assert not await sync_to_async(Message.objects.filter(sender=Sender.BOT).exists)()

    again = await open_client(stack.ws, origin=ORIGIN, token=client.session["token"])
    assert again.session["conversation"] == ack["conversation"]
    await again.send({"type": "resume", "after_seq": ack["seq"]})
    frames = await again.until(is_bot_message)
    messages = [f for f in frames if f["type"] == "message"]
    assert [(m["seq"], m["sender"]) for m in messages] == [(2, "bot")]
    assert messages[0]["sources"][0]["question"] == "How much does shipping cost?"
    assert await again.nothing_within(1.0)
    await again.connection.close()
    seqs = await sync_to_async(list)(Message.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == [1, 2]


async def test_resending_a_client_id_returns_the_same_ack_and_stores_nothing_new(stack: Stack, demo_site: Any) -> None:
    client = await open_client(stack.ws, origin=ORIGIN)
    client_id = await client.ask("do you deliver to Australia?")
    frames = await client.until(is_bot_message)
    await client.ask("do you deliver to Australia?", client_id=client_id)
    assert await client.receive() == frames[0]
    assert await client.nothing_within(1.5)
    await client.connection.close()
    assert await sync_to_async(Message.objects.count)() == 2


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "https://shop.example.com.evil.net", "http://shop.example.com"]
)
async def test_a_disallowed_origin_is_refused_at_the_handshake(stack: Stack, demo_site: Any, origin: str) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        await open_client(stack.ws, origin=origin)
    assert refused.value.response.status_code == 403


async def test_a_connection_without_an_origin_header_is_refused(stack: Stack, demo_site: Any) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await websockets.connect(f"{stack.ws}/ws/chat/?site=demo", open_timeout=10)
    await asyncio.sleep(0)
